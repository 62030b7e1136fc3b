"""Which test a connection of the worker belongs to, so that one left behind names its test.

The worker's backends are known by their application name, ``pytest-uow <run> <worker>``
(``Worker.application_name``). While a test runs, the connections that the worker's engines
open, those of engines the application builds from ``uow_database_url``, and those of libpq
clients that read ``PGAPPNAME`` (the application's own engines, its child processes), add the
test to that name, clipped to what PostgreSQL keeps. A pooled
connection checked out while a test runs is noted against that test until it is checked in
again: a connection left idle in a transaction is one the test never gave back, whoever opened
it. The note costs a dictionary write per checkout; the name costs one statement per new
connection, which also reads the backend's pid.
"""

from __future__ import annotations

import string
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

# PostgreSQL keeps this many bytes of an application name (NAMEDATALEN - 1), and shows any
# character that is not printable ASCII as "?".
_NAME_BYTES = 63
_KEPT_CHARACTERS = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c'\\")
_PID = "pytest_uow_backend_pid"


def application_name(base: str, test: str | None) -> str:
    """``base``, and the test's node id after it, its start dropped if it does not fit."""
    if test is None:
        return base
    label = "".join(c if c in _KEPT_CHARACTERS else "?" for c in test)
    room = _NAME_BYTES - len(base) - 1
    if len(label) > room:
        label = "..." + label[len(label) - room + 3 :]
    return f"{base} {label}"


def is_ours(name: str, base: str) -> bool:
    """Whether a backend's application name is this worker's (with a test in it or not)."""
    return name == base or name.startswith(f"{base} ")


def named_test(name: str, base: str) -> str | None:
    """The test an application name of ours carries, as far as it was kept."""
    prefix = f"{base} "
    if not name.startswith(prefix):
        return None
    return name[len(prefix) :] or None


class ConnectionNames:
    """The worker's connections by test: the name each new one gets, and who holds which."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._test: str | None = None
        self.current = base  # the application name of a connection opened now
        self._held_by: dict[int, str] = {}  # backend pid -> the test that checked it out
        # Names given, clipped where the node id did not fit -> the whole node id.
        self._tests_by_name: dict[str, str] = {}

    @property
    def test(self) -> str | None:
        """The node id of the test running now."""
        return self._test

    @test.setter
    def test(self, test: str | None) -> None:
        self._test = test
        self.current = application_name(self.base, test)
        if test is not None:
            self._tests_by_name[self.current] = test

    def watch(self, engine: Engine) -> None:
        """Name ``engine``'s new connections, and note its checkouts during tests."""
        event.listen(engine, "connect", self._connected)
        event.listen(engine, "checkout", self._checked_out)
        event.listen(engine, "checkin", self._checked_in)

    def watch_every_engine(self) -> None:
        """Also name the new connections of engines the application builds from the worker's
        URL (``uow_database_url``, an engine per call): any engine whose connection would carry
        the worker's bare name, through a class-level event that rewrites it before connecting
        (libpq drivers take the name as a connect argument)."""
        if not event.contains(Engine, "do_connect", self._connecting):
            event.listen(Engine, "do_connect", self._connecting)

    def stop_watching_every_engine(self) -> None:
        if event.contains(Engine, "do_connect", self._connecting):
            event.remove(Engine, "do_connect", self._connecting)

    def forget(self, connection: Connection) -> None:
        """``connection`` is the plugin's own from now on, whichever test checked it out."""
        pid = connection.info.get(_PID)
        if pid is not None:
            self._held_by.pop(pid, None)

    def test_of(self, pid: int, name: str) -> str | None:
        """The test that held backend ``pid`` last, else the one its name carries."""
        return (
            self._held_by.get(pid) or self._tests_by_name.get(name) or named_test(name, self.base)
        )

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        # SQLAlchemy's recipe for a statement on each new connection: under autocommit, so
        # that no transaction is left open to the first user (who may set an isolation level).
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(
                f"SELECT pg_backend_pid(), set_config('application_name', '{self.current}', false)"
            )
            record.info[_PID] = int(cursor.fetchone()[0])
        finally:
            cursor.close()
            dbapi_connection.autocommit = autocommit

    def _connecting(self, dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        if self.test is not None and cparams.get("application_name") == self.base:
            cparams["application_name"] = self.current

    def _checked_out(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        pid = record.info.get(_PID)
        if pid is not None and self.test is not None:
            self._held_by[pid] = self.test

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        pid = record.info.get(_PID)
        if pid is not None:
            self._held_by.pop(pid, None)
