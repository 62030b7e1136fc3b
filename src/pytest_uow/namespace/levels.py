"""Scoped data under ``rollback``: the rows a fixture of a wider scope than the test (class,
module, package, session) writes live as long as that fixture, on the test's connections.

The kept test connection's transaction is then held from test to test, as is that of every
connection the router opened for an application engine of another driver (an application on
psycopg beside the plugin's psycopg2): the test's connections. Each such fixture gets a
savepoint on each of them, opened before its set-up (a *level*); the running test gets one
above every level (``uow_test``), and its reset is a rollback to it, one round trip, as a
test's reset without levels is one ``ROLLBACK``. A level ends with a rollback to its savepoint
when its fixture is finalized; once no level is left the transactions end. A fixture that
wrote nothing keeps no level: whether it wrote is read from the server (a savepoint that wrote
holds a lock on its transaction id until it ends), so fixtures that never touch the database
cost nothing here.

Sessions and application connections that left a savepoint open during a fixture's set-up (a
session that read after its last commit) would take the test's savepoint with them when they
commit later: their savepoints are detached (``savepoints.SavepointStack``).
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from pytest_uow.savepoints import dbapi_of, drop_stack, keep_stack

TEST_MARK = "uow_test"
_WRITTEN_LOCKS = (
    "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'transactionid'"
)


class _Holder:
    """One of the test's connections: the kept ``Connection``, or a DBAPI connection the router
    opened for another driver."""

    def __init__(self, dbapi_connection: Any, connection: Connection | None = None) -> None:
        self.dbapi_connection = dbapi_connection
        self.connection = connection
        self.stack = keep_stack(dbapi_connection)

    def execute(self, statement: str) -> None:
        if self.connection is not None:
            self.connection.exec_driver_sql(statement)
            return
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()

    def locks(self) -> int:
        if self.connection is not None:
            return int(self.connection.exec_driver_sql(_WRITTEN_LOCKS).scalar_one())
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(_WRITTEN_LOCKS)
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()

    def end(self) -> None:
        """Roll back whatever transaction it holds."""
        connection = self.connection
        if connection is not None:
            if not connection.closed and connection.in_transaction():
                connection.rollback()
        elif not getattr(self.dbapi_connection, "closed", False):
            # The router's connection for another driver: a broken one is the router's to
            # replace, and its transaction is gone with it.
            with contextlib.suppress(Exception):
                self.dbapi_connection.rollback()
        self.stack.clear()

    def forget(self) -> None:
        drop_stack(self.dbapi_connection)


@dataclass
class Level:
    """One fixture's savepoint; ``locks`` counts each connection's transaction-id locks before
    its set-up (by id of the holder)."""

    name: str
    locks: dict[int, int] = field(default_factory=dict)
    set_up: bool = False


class KeptLevels:
    """The levels on the test's connections, and the transactions that hold them."""

    def __init__(self) -> None:
        self._kept: _Holder | None = None
        self._others: dict[int, _Holder] = {}  # by id of the DBAPI connection
        self._levels: list[Level] = []  # in the server's order, innermost last
        self._test_mark = False  # ``uow_test`` is open above the levels
        self._names = itertools.count(1)

    @property
    def holding(self) -> bool:
        """Whether the test's connections hold scoped data: their transactions are then not
        ended between tests."""
        return bool(self._levels)

    def _holders(self) -> list[_Holder]:
        return [*([self._kept] if self._kept is not None else []), *self._others.values()]

    def attach(self, connection: Connection) -> None:
        """A new kept connection: its savepoints are kept track of from now on."""
        self._kept = _Holder(dbapi_of(connection), connection)

    def detach(self) -> bool:
        """The kept connection goes: whether scoped data went with it (the other connections'
        levels go too)."""
        lost = bool(self._levels)
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.forget()
        if lost:
            for other in self._others.values():
                other.end()
        self._levels.clear()
        self._test_mark = False
        return lost

    # The router's connections for other drivers (``routing/router.py``).

    def adopt(self, dbapi_connection: Any) -> None:
        """A connection the router just opened for another driver joins the test's: it gets
        the levels open now (empty on it), and the test's savepoint."""
        holder = self._others[id(dbapi_connection)] = _Holder(dbapi_connection)
        for level in self._levels:
            holder.execute(f"SAVEPOINT {level.name}")
            holder.stack.opened(level.name, mark=True)
            level.locks[id(holder)] = 0
        if self._test_mark:
            holder.execute(f"SAVEPOINT {TEST_MARK}")
            holder.stack.opened(TEST_MARK, mark=True)

    def holds(self, dbapi_connection: Any) -> bool:
        """Whether the transaction of that connection of the router's is ended here."""
        return id(dbapi_connection) in self._others

    def release(self, dbapi_connection: Any) -> None:
        """The router closes that connection."""
        holder = self._others.pop(id(dbapi_connection), None)
        if holder is not None:
            holder.forget()

    # One rollback test.

    def begin_test(self) -> None:
        """Before a ``rollback`` test on the kept connection: its transaction, or, where levels
        hold it, the test's savepoint above them."""
        kept = self._kept
        assert kept is not None
        assert kept.connection is not None
        if not self._levels:
            if kept.connection.in_transaction():  # begun after the last test (a teardown's)
                kept.connection.rollback()
            kept.connection.begin()
            kept.stack.clear()
        elif not self._test_mark:
            self._mark_test()

    def _mark_test(self) -> None:
        for holder in self._holders():
            holder.execute(f"SAVEPOINT {TEST_MARK}")
            holder.stack.opened(TEST_MARK, mark=True)
        self._test_mark = True

    def end_test(self) -> None:
        """After a ``rollback`` test: its writes are undone, the levels kept."""
        if not self._levels:
            self._end_transactions()
            return
        if self._test_mark:
            for holder in self._holders():
                holder.execute(f"ROLLBACK TO SAVEPOINT {TEST_MARK}")
                holder.stack.rolled_back_to(TEST_MARK)

    def open_level(self) -> Level:
        """Before a wider-scoped fixture's set-up, in a ``rollback`` test: its savepoint, below
        the test's (what the test wrote before stays with the levels under it)."""
        holders = self._holders()
        if self._test_mark:
            for holder in holders:
                holder.execute(f"RELEASE SAVEPOINT {TEST_MARK}")
                holder.stack.released(TEST_MARK)
            self._test_mark = False
        level = Level(f"uow_scope_{next(self._names)}")
        for holder in holders:
            holder.execute(f"SAVEPOINT {level.name}")
            holder.stack.opened(level.name, mark=True)
            level.locks[id(holder)] = holder.locks()
        self._levels.append(level)
        return level

    def close_set_up(self, level: Level) -> bool:
        """The fixture's set-up is over: whether it wrote (then its level stays until
        ``end_levels``; else it goes at once). The test's savepoint is opened again once no
        set-up is under way."""
        holders = self._holders()
        wrote = any(holder.locks() > level.locks.get(id(holder), 0) for holder in holders)
        for holder in holders:
            if wrote:
                holder.stack.detach_above(level.name)
            else:
                holder.execute(f"RELEASE SAVEPOINT {level.name}")
                holder.stack.released(level.name)
        if wrote:
            level.set_up = True
        else:
            self._levels.remove(level)
        if self._levels and all(other.set_up for other in self._levels):
            self._mark_test()
        return wrote

    def abandon_set_up(self, level: Level) -> None:
        """The fixture's set-up failed: what it wrote goes, and its level with it."""
        if level not in self._levels:
            return
        for holder in self._holders():
            holder.execute(f"ROLLBACK TO SAVEPOINT {level.name}")
            holder.execute(f"RELEASE SAVEPOINT {level.name}")
            holder.stack.released(level.name)
        del self._levels[self._levels.index(level) :]
        if self._levels and all(other.set_up for other in self._levels):
            self._mark_test()

    def end_levels(self, levels: list[Level]) -> None:
        """Those levels' fixtures were finalized (with every level opened after them): their
        rows go; once no level is left, the transactions end."""
        ending = [level for level in self._levels if level in levels]
        if not ending:
            return
        lowest = self._levels.index(ending[0])
        name = self._levels[lowest].name
        del self._levels[lowest:]
        self._test_mark = False
        if not self._levels:
            self._end_transactions()
            return
        for holder in self._holders():
            holder.execute(f"ROLLBACK TO SAVEPOINT {name}")
            holder.execute(f"RELEASE SAVEPOINT {name}")
            holder.stack.released(name)

    def _end_transactions(self) -> None:
        """Roll back what the test's connections hold: the test's transaction, or the one the
        levels held (or one a session began after they ended)."""
        for holder in self._holders():
            holder.end()
