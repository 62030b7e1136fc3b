"""Writes that escaped a test's isolation: committed to the worker namespace by a connection
other than the test's own, and so still there for the next test.

Under ``rollback`` everything the test's connection writes is rolled back, and the
application's engines join that connection. What else reaches the namespace (a libpq
connection that read ``PGOPTIONS``, ``uow_engine``, a child process, a thread with an engine of
its own) commits for real. A test with no isolation of its own commits whatever it writes.

Knowing whether that happened must cost next to nothing when it did not, so no query waits
per test. Every table of the namespace has a statement-level trigger that sends a
notification (``NOTIFY``) on the worker's channel; PostgreSQL delivers it only when the
writing transaction commits, so rolled-back writes send nothing, and delivers it to an idle
listening connection before the reply to whatever that connection asks next. Two connections
listen. The kept test connection of ``rollback``: a test that used it ends with a ``ROLLBACK``
whose reply brings every notification of a commit made during the test, at no cost. And a
connection of the worker's own, in psycopg2's asynchronous mode, for every other watched test
(one that did not touch its connection, or has no isolation): when the test ends it sends
``SELECT 1`` without waiting, and when the next test begins (or the run ends) it reads the
reply, which by then has arrived with every notification ahead of it. A commit's
notification reaches both connections; ``Heard`` counts it once. The plugin's own connections
(the kept one, the cleaner's, the listener) set ``pytest_uow.unwatched``, which the triggers'
``WHEN`` clause reads, so their writes do not fire them at all.
"""

from __future__ import annotations

import select
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions
from sqlalchemy.exc import DBAPIError

from pytest_uow.diagnosis import has_input
from pytest_uow.leftovers.naming import ConnectionNames

# The setting a connection of the plugin's own sets; a custom setting needs a dotted name.
UNWATCHED_SETTING = "pytest_uow.unwatched"
MARK_UNWATCHED = f"SET {UNWATCHED_SETTING} = on"
_FUNCTION = "pytest_uow_note_write"
_TRIGGER = "pytest_uow_write"


@dataclass(frozen=True)
class Write:
    """One committed statement of another connection: the table, the transaction, and who
    wrote."""

    table: str
    transaction: str
    application_name: str
    pid: int


def watch_sql(tables: Sequence[str], function_schema: str, channel: str) -> str:
    """SQL: the notifying function in ``function_schema`` (quoted) and a trigger on each of
    ``tables`` (quoted, schema-qualified) that has none yet. ``channel`` is the worker's."""
    literal = channel.replace("'", "''")
    function = f"{function_schema}.{_FUNCTION}"
    statements = [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $uow$ "
        f"BEGIN PERFORM pg_notify('{literal}', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME || ' ' "
        "|| txid_current() || ' ' || current_setting('application_name')); RETURN NULL; "
        "END $uow$"
    ]
    for table in tables:
        statements.append(
            f"DROP TRIGGER IF EXISTS {_TRIGGER} ON {table}; "
            f"CREATE TRIGGER {_TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT WHEN (current_setting('{UNWATCHED_SETTING}', true) "
            f"IS DISTINCT FROM 'on') EXECUTE PROCEDURE {function}()"
        )
    return "; ".join(statements)


def _quoted_channel(channel: str) -> str:
    return '"' + channel.replace('"', '""') + '"'


class Listener:
    """The worker's channel, listened to on a connection of its own (asynchronous: a question
    is sent without waiting for its answer)."""

    def __init__(self, dsn: str, channel: str) -> None:
        """Connect to ``dsn`` (libpq's) and listen on ``channel``; SQLAlchemy's ``DBAPIError``
        if that fails, as from every other connection of the plugin."""
        self._channel = channel
        self._asked = False
        try:
            self._connection = psycopg2.connect(dsn, async_=True)
            self._wait()
            self._cursor = self._connection.cursor()
            self._cursor.execute(listen_sql(channel))
            self._wait()
        except psycopg2.Error as error:
            self.close()
            raise _failed("LISTEN", error) from error

    def _wait(self) -> None:
        """Until the connection is idle again (the answer is in): at once when it already came."""
        connection = self._connection
        while True:
            state = connection.poll()
            if state == psycopg2.extensions.POLL_OK:
                return
            if state == psycopg2.extensions.POLL_READ:
                select.select([connection.fileno()], [], [])
            else:
                select.select([], [connection.fileno()], [])

    def ask(self) -> None:
        """Send the question whose answer comes after every notification committed so far."""
        if self._asked:
            return
        try:
            self._cursor.execute("SELECT 1")
            # psycopg2 sends an asynchronous query when polled: sent now, answered later.
            while self._connection.poll() == psycopg2.extensions.POLL_WRITE:
                select.select([], [self._connection.fileno()], [])
        except psycopg2.Error as error:
            raise _failed("SELECT 1", error) from error
        self._asked = True

    def answer(self) -> list[Write]:
        """The notifications that came up to the answer (and any after it): waits only until
        the answer is in, which it normally is."""
        try:
            if self._asked:
                self._wait()
                self._cursor.fetchall()
                self._asked = False
        except psycopg2.Error as error:
            raise _failed("SELECT 1", error) from error
        pending = self._connection.notifies
        writes = [
            _write(notify.payload, notify.pid)
            for notify in pending
            if notify.channel == self._channel
        ]
        pending.clear()
        return writes

    def fence(self) -> list[Write]:
        """Every notification of a commit made before now, not to be counted: one round
        trip."""
        heard = self.answer()
        self.ask()
        return heard + self.answer()

    def close(self) -> None:
        connection = getattr(self, "_connection", None)
        if connection is not None:
            connection.close()


def _failed(statement: str, error: psycopg2.Error) -> DBAPIError:
    """The driver's error as SQLAlchemy's, which the plugin explains (and, for a server that
    is gone, keeps as the one reason every later test fails with)."""
    wrapped: DBAPIError = DBAPIError.instance(statement, None, error, psycopg2.Error)
    return wrapped


def _write(payload: str, pid: int) -> Write:
    table, _, rest = payload.partition(" ")
    transaction, _, application_name = rest.partition(" ")
    return Write(table, transaction, application_name, pid)


def listen_sql(channel: str) -> str:
    """SQL: a connection of the plugin's own listens on the worker's channel."""
    return f"{MARK_UNWATCHED}; LISTEN {_quoted_channel(channel)}"


def heard_on(dbapi_connection: Any, channel: str) -> list[Write]:
    """What a psycopg2 connection that listens has heard so far: with the replies it read,
    and what came while it was idle (read from its socket without asking). Raises the
    driver's error when the server hung up instead."""
    if has_input(dbapi_connection):
        dbapi_connection.poll()
    pending = dbapi_connection.notifies
    writes = [_write(notify.payload, notify.pid) for notify in pending if notify.channel == channel]
    pending.clear()
    return writes


class Heard:
    """Each commit counted once, though its notification reaches two listening connections
    (the listener's, and the kept test connection), at different times."""

    def __init__(self) -> None:
        self._first: dict[Write, str] = {}  # heard on one side, awaited on the other

    def new(self, writes: list[Write], side: str) -> list[Write]:
        """Of ``writes``, heard on ``side``, those the other side has not heard."""
        fresh = []
        for write in writes:
            first = self._first.get(write)
            if first is None:
                self._first[write] = side
                fresh.append(write)
            elif first != side:
                del self._first[write]
        return fresh

    def replaced(self, side: str) -> None:
        """``side`` listens on a new connection, which will not hear what was before."""
        self._first = {write: first for write, first in self._first.items() if first == side}


def tables_written(writes: Sequence[Write]) -> str:
    return ", ".join(sorted({write.table for write in writes}))


def writers(writes: Sequence[Write], names: ConnectionNames) -> str:
    """Who committed ``writes``: the test each writing connection belongs to (its holder,
    the last test that took it from a pool, or the test its application name carries), else
    the name itself."""
    described: list[str] = []
    for write in writes:
        test = names.test_of(write.pid, write.application_name)
        if test is not None:
            who = f"a connection of {test}"
        elif write.application_name:
            who = f"application_name {write.application_name!r}"
        else:
            who = "a connection without an application_name"
        who = f"{who} (pid {write.pid})"
        if who not in described:
            described.append(who)
    return "; ".join(described)
