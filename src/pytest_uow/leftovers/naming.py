"""Which test a connection of the worker belongs to, so that one left behind names its test.

The worker's backends are known by their application name, ``pytest-uow <run> <worker>``
(``Worker.application_name``), which the worker's URLs carry. While a test runs, every engine
that connects with that name, the worker's own and those the application builds from
``uow_database_url`` (sync, or async through ``async_engine_args``), connects with the test
added to it, clipped to what PostgreSQL keeps: one class-level ``do_connect`` event rewrites the
connect arguments, at no cost to the connection. libpq clients that read ``PGAPPNAME`` (the
application's own engines, its child processes) get the same name from the environment.

A name is fixed when a connection opens, but a pool hands it to test after test. So a pooled
connection of the worker engine checked out while a test runs is noted against that test until
it is checked in again (a connection left idle in a transaction is one the test never gave
back, whoever opened it), and every pool's checkout during a test notes the test as the last
to take that connection. A connection is blamed on its holder, else on the last test that took
it, and only then on its name. The note costs a dictionary write per checkout.
"""

from __future__ import annotations

import contextlib
import string
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

from pytest_uow.current import CURRENT

# PostgreSQL keeps this many bytes of an application name (NAMEDATALEN - 1), and shows any
# character that is not printable ASCII as "?".
_NAME_BYTES = 63
_KEPT_CHARACTERS = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c'\\")
_PID = "pytest_uow_backend_pid"


def application_name(base: str, test: str | None) -> str:
    """``base``, and the test's node id after it, its start dropped if it does not fit."""
    if test is None:
        return base
    label = test
    if not (test.isascii() and test.isprintable()) or "'" in test or "\\" in test:
        label = "".join(c if c in _KEPT_CHARACTERS else "?" for c in test)
    room = _NAME_BYTES - len(base) - 1
    if len(label) > room:
        label = "..." + label[len(label) - room + 3 :]
    return f"{base} {label}"


def backend_pid(dbapi_connection: Any) -> int | None:
    """The backend's pid, as the driver knows it without asking the server (psycopg2 and
    psycopg in ``info``; asyncpg, behind SQLAlchemy's adapter, from its connection)."""
    pid = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)
    if pid is None:
        driver_connection = getattr(dbapi_connection, "driver_connection", None)
        get_server_pid = getattr(driver_connection, "get_server_pid", None)
        if get_server_pid is not None:
            pid = get_server_pid()
    return pid if isinstance(pid, int) else None


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
        self._held_by: dict[int, str] = {}  # backend pid -> the test that checked it out
        self._last_taken_by: dict[int, str] = {}  # backend pid -> the last test that took it
        self.checkouts = 0  # of every pool of the process, since the namespace opened
        # The connections the pools of the process have handed out, by backend pid.
        self._out: dict[int, weakref.ref[Any]] = {}
        # Names given where the node id did not fit -> the whole node id.
        self._clipped: dict[str, str] = {}
        self._named: tuple[str | None, str] = (None, base)  # the last test, and its name

    @property
    def current(self) -> str:
        """The application name of a connection opened now, by the running test."""
        return self.name_for(CURRENT.nodeid)

    def name_for(self, test: str | None) -> str:
        """The application name of a connection opened while ``test`` runs (None: no test)."""
        if test is None:
            return self.base
        if self._named[0] != test:
            name = application_name(self.base, test)
            if test is not None and named_test(name, self.base) != test:
                self._clipped[name] = test
            self._named = (test, name)
        return self._named[1]

    def watch(self, engine: Engine) -> None:
        """Note ``engine``'s checkouts during tests."""
        event.listen(engine, "checkout", self._checked_out)
        event.listen(engine, "checkin", self._checked_in)

    def watch_every_engine(self) -> None:
        """Name the new connections of every engine that connects with the worker's name."""
        if not event.contains(Engine, "do_connect", self._connecting):
            event.listen(Engine, "do_connect", self._connecting)
            event.listen(Pool, "checkout", self._taken)
            event.listen(Pool, "checkin", self._given_back)

    def stop_watching_every_engine(self) -> None:
        if event.contains(Engine, "do_connect", self._connecting):
            event.remove(Engine, "do_connect", self._connecting)
            event.remove(Pool, "checkout", self._taken)
            event.remove(Pool, "checkin", self._given_back)

    def forget(self, connection: Connection) -> None:
        """``connection`` is the plugin's own from now on, whichever test checked it out."""
        pid = connection.info.get(_PID)
        if pid is not None:
            self._held_by.pop(pid, None)

    def test_of(self, pid: int, name: str) -> str | None:
        """The test that holds backend ``pid``, else the last test that took it from a pool,
        else the one its name carries."""
        return (
            self._held_by.get(pid)
            or self._last_taken_by.get(pid)
            or self._clipped.get(name)
            or named_test(name, self.base)
        )

    def _connecting(self, dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        """libpq drivers take the name as a connect argument, asyncpg among its server
        settings (a dictionary the engine's connections share: replaced, not changed)."""
        if CURRENT.nodeid is None:
            return
        if cparams.get("application_name") == self.base:
            cparams["application_name"] = self.current
        settings = cparams.get("server_settings")
        if isinstance(settings, dict) and settings.get("application_name") == self.base:
            cparams["server_settings"] = {**settings, "application_name": self.current}

    def _checked_out(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        pid = backend_pid(dbapi_connection)
        record.info[_PID] = pid
        test = CURRENT.nodeid
        if pid is not None and test is not None:
            self._held_by[pid] = test

    def _taken(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        self.checkouts += 1
        pid = backend_pid(dbapi_connection)
        if pid is None:
            return
        self._out[pid] = weakref.ref(proxy)
        test = CURRENT.nodeid
        if test is not None:
            self._last_taken_by[pid] = test

    def _given_back(self, dbapi_connection: Any, record: Any) -> None:
        pid = backend_pid(dbapi_connection) if dbapi_connection is not None else None
        if pid is not None:
            self._out.pop(pid, None)

    def ended(self, pids: list[int]) -> None:
        """The plugin is ending these backends: a connection of theirs that a pool of the
        process handed out, and nobody gave back, is invalidated now. Its pool then never
        resets it (a rollback on a dead connection, and the traceback the pool logs for it);
        whoever holds it gets SQLAlchemy's invalidated-connection error on its next use."""
        for pid in pids:
            taken = self._out.pop(pid, None)
            proxy = taken() if taken is not None else None
            if proxy is not None and proxy.dbapi_connection is not None:
                with contextlib.suppress(Exception):  # already closed, or being closed
                    proxy.invalidate()

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        pid = record.info.get(_PID)
        if pid is not None:
            self._held_by.pop(pid, None)
