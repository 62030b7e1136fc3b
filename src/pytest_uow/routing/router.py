"""Every engine of the test process that connects to the configured database reaches the worker
namespace instead, however and wherever the application built it.

Two class-level events see every engine: ``do_connect``, where a new connection is made, and the
pool's ``checkout``, where a pooled one is handed out. A connection of the configured database
(``target.py``) is made, while a ``rollback`` test runs, as the test's own DBAPI connection, lent
(``joined.py``); otherwise as a new connection to the worker namespace, committing for real (the
``truncate`` and ``recreate`` strategies, tests with no isolation, fixtures between tests). Each
pooled connection carries the route it was made for, in its pool entry's ``info``; a checkout
whose route is not the one of the moment is refused with ``DisconnectionError``, which makes the
pool connect afresh: the documented way to replace a pooled connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

from pytest_uow.compat import dialect_isolation_level
from pytest_uow.current import CURRENT
from pytest_uow.errors import UowError
from pytest_uow.routing.joined import JoinedConnection, OverriddenDialects
from pytest_uow.routing.target import DatabaseAddress, is_the_plugins, routed_params

_ROUTE = "pytest-uow route"  # in a pool entry's info: the route its connection was made for
_LOOP = "pytest-uow loop"  # in an async routed pool entry's info: the loop it belongs to
_AUTOCOMMIT = "pytest-uow autocommit"  # in a routed pool entry's info: it never joins a test
_OUT = "pytest-uow checked out"  # in a routed pool entry's info: whether the application has it
Driver = tuple[str, bool]  # a dialect's driver, and whether it is async


class OwnConnections(Protocol):
    """Who keeps the transactions of the connections the router opens for other drivers from
    test to test, where wider-scoped fixtures keep rows in them (``namespace/levels.py``)."""

    def adopt(self, dbapi_connection: Any) -> None:
        """A connection the router just opened joins the test's connections."""

    def holds(self, dbapi_connection: Any) -> bool:
        """Whether its transaction is ended there, not by the router."""

    def release(self, dbapi_connection: Any) -> None:
        """The router closes it."""


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _driver(dialect: Dialect) -> Driver:
    return (str(dialect.driver), bool(getattr(dialect, "is_async", False)))


# libpq's PQtransactionStatus, as psycopg2 and psycopg 3 give it: in a transaction, or in a
# failed one (asyncpg's connections have no such attribute, and are left alone).
_IN_A_TRANSACTION = (2, 3)


class _RealCommits:
    """The route of connections made to the worker namespace: one per build of it (a database
    replaced by ``recreate`` is a new one)."""


class WorkerRoute:
    """Where routed connections go: the worker namespace, opened when first needed."""

    def __init__(self, destination: Callable[[], tuple[URL, str | None] | None]) -> None:
        """``destination`` opens the namespace if need be and gives its URL, and its
        ``search_path`` where the namespace is one schema of the configured database; None
        while the namespace is being built (what connects then is left as made: the build
        checks it)."""
        self._destination = destination
        self.real = _RealCommits()

    def params(self, params: dict[str, Any], asyncpg: bool) -> dict[str, Any] | None:
        destination = self._destination()
        if destination is None:
            return None
        url, search_path = destination
        return routed_params(params, url, search_path, asyncpg)

    def rebuilt(self) -> None:
        """The namespace was replaced: connections made to the old one are not reused."""
        self.real = _RealCommits()


class EngineRouter:
    """The routes of the application's engines during one worker's run."""

    def __init__(
        self,
        configured: URL | None,
        route: WorkerRoute,
        own_options: Callable[[], str | None] = lambda: None,
    ) -> None:
        """``own_options`` gives, once the worker exported ``PGOPTIONS``, the options a libpq
        connection elsewhere must keep instead (what ``PGOPTIONS`` was before; else none)."""
        # None with the throwaway server, which no application names: only the engines of
        # objects the settings name are routed then (``adopt``).
        self._configured = DatabaseAddress.of_url(configured) if configured is not None else None
        self._route = route
        self._own_options = own_options
        self._dialects: weakref.WeakKeyDictionary[Dialect, bool] = weakref.WeakKeyDictionary()
        self._lent: dict[int, JoinedConnection] = {}  # by id of the DBAPI connection
        self._joined: dict[Driver, JoinedConnection] | None = None  # while a rollback test runs
        self._own: dict[Driver, JoinedConnection] = {}  # opened for drivers the test lacks
        self.own_connections: OwnConnections | None = None  # set once the namespace is open
        self._overridden = OverriddenDialects(self._lent_connection)
        self._routed: weakref.WeakSet[Any] = weakref.WeakSet()  # pool entries given a route
        self._lend_to_every_engine = False  # a migration environment runs (``lending``)
        self._lending = False  # a build lends its connection (``lending``)
        # Where an engine of another driver connects while a migration environment runs: the
        # build's database, on a connection of its own that the environment swaps for the
        # build's (``migrations/runner.py``).
        self._stand_in: URL | None = None
        self._installed = False
        # The drivers of the application's engines that were routed: what the summary says
        # they used, whatever driver the plugin's own URL names.
        self.drivers_used: set[str] = set()

    # Installation, for the run.

    def install(self) -> None:
        if not self._installed:
            self._installed = True
            event.listen(Engine, "do_connect", self.connecting)
            event.listen(Pool, "checkout", self._checking_out)
            event.listen(Pool, "checkin", self._checked_in)
            _INSTALLED.append(self)

    def uninstall(self) -> None:
        """The listeners removed, the dialects restored, the connections the router opened
        closed."""
        if self._installed:
            self._installed = False
            event.remove(Engine, "do_connect", self.connecting)
            event.remove(Pool, "checkout", self._checking_out)
            event.remove(Pool, "checkin", self._checked_in)
            _INSTALLED.remove(self)
        for entry in list(self._routed):
            if entry.info.pop(_ROUTE, None) is not None and entry.dbapi_connection is not None:
                entry.invalidate()  # the namespace goes: nothing stays connected to it
        self._routed.clear()
        self._overridden.restore()
        self.close_own()
        self._lent.clear()

    def close_own(self) -> None:
        """The connections opened for drivers the test lacks are closed (the worker database
        is replaced, or the run ends); they are opened again when next needed."""
        for joined in self._own.values():
            self._lent.pop(id(joined.dbapi_connection), None)
            if self.own_connections is not None:
                self.own_connections.release(joined.dbapi_connection)
            with contextlib.suppress(Exception):  # already closed or broken: nothing to release
                joined.dbapi_connection.close()
        self._own.clear()

    # One rollback test.

    def join(self, connection: Connection) -> None:
        """A rollback test runs in ``connection``'s transaction: application engines of its
        driver are lent its DBAPI connection."""
        self._joined = {}
        self._join(connection.connection.dbapi_connection, _driver(connection.dialect))

    def _join(self, dbapi_connection: Any, driver: Driver) -> JoinedConnection:
        assert self._joined is not None
        joined = self._lent.get(id(dbapi_connection))
        if joined is None or joined.dbapi_connection is not dbapi_connection:
            joined = JoinedConnection(dbapi_connection, driver)
            self._lent[id(dbapi_connection)] = joined
        joined.join()
        self._joined[driver] = joined
        return joined

    def begun_elsewhere(self, connection: Connection) -> list[tuple[str, int]]:
        """Per driver, how many transactions application engines began on the test's
        connections whose transactions nobody holds from test to test (the async side's)."""
        kept = connection.connection.dbapi_connection
        held = self.own_connections
        return [
            (name if not is_async else f"{name} (async)", joined.begun)
            for (name, is_async), joined in (self._joined or {}).items()
            if joined.dbapi_connection is not kept
            and not (held is not None and held.holds(joined.dbapi_connection))
        ]

    def lend_during(
        self, connection: Connection, every_engine: bool
    ) -> tuple[dict[Driver, JoinedConnection] | None, bool, bool]:
        """Join ``connection`` for a while (and lend it to every engine that is not the
        plugin's, whatever it names, if ``every_engine``); gives back what was before."""
        outer = (self._joined, self._lend_to_every_engine, self._lending)
        self.join(connection)
        self._lend_to_every_engine = every_engine
        self._lending = True
        self._stand_in = connection.engine.url if every_engine else None
        return outer

    def end_lending(self, outer: tuple[dict[Driver, JoinedConnection] | None, bool, bool]) -> None:
        self.leave()
        self._joined, self._lend_to_every_engine, self._lending = outer
        self._stand_in = None
        for joined in (self._joined or {}).values():
            joined.joined = True

    def leave(self) -> None:
        """The test's transaction ends: what was lent is no longer joined; what the router
        opened for another driver is rolled back."""
        joined, self._joined = self._joined, None
        held = self.own_connections
        for lent in (joined or {}).values():
            lent.leave()
            if lent in self._own.values() and not (
                held is not None and held.holds(lent.dbapi_connection)
            ):
                lent.dbapi_connection.rollback()

    # The events.

    def _lent_connection(self, dbapi_connection: Any) -> JoinedConnection | None:
        joined = self._lent.get(id(dbapi_connection))
        if joined is not None and joined.dbapi_connection is dbapi_connection:
            return joined
        return None

    def _is_configured(self, dialect: Dialect, params: dict[str, Any]) -> bool:
        known = self._dialects.get(dialect)
        if known is None:
            known = (
                self._configured is not None
                and not is_the_plugins(params)
                and DatabaseAddress.of_params(params) == self._configured
            )
            self._dialects[dialect] = known
            if known:
                self._overridden.override(dialect)
        return known

    def adopt(self, dialect: Dialect) -> None:
        """``dialect``'s engine is routed whatever database its URL names: the engine of an
        object the settings name (a Flask-SQLAlchemy extension's)."""
        if self._dialects.get(dialect) is not True:
            self._dialects[dialect] = True
            self._overridden.override(dialect)

    def connecting(
        self, dialect: Dialect, record: Any, cargs: list[Any], cparams: dict[str, Any]
    ) -> Any:
        if self._lend_to_every_engine and not is_the_plugins(cparams):
            self.adopt(dialect)
        if not self._is_configured(dialect, cparams):
            if not is_the_plugins(cparams):
                CURRENT.note_elsewhere(DatabaseAddress.of_params(cparams).describe())
            self._as_made(dialect, cparams)
            return None
        CURRENT.note_reached()
        self.drivers_used.add(str(dialect.driver))
        if self._joined is None:
            CURRENT.needs_isolation()
        # An engine in autocommit does what no transaction can hold (CREATE DATABASE, VACUUM):
        # it commits for real, in the namespace.
        autocommit = dialect_isolation_level(dialect) == "AUTOCOMMIT"
        record.info[_AUTOCOMMIT] = autocommit
        if self._stand_in is not None and _driver(dialect) not in (self._joined or {}):
            stand_in = routed_params(cparams, self._stand_in, None, dialect.driver == "asyncpg")
            cparams.clear()
            cparams.update(stand_in)
            return None
        if self._joined is not None and not autocommit:
            joined = self._lent_for(dialect, cargs, cparams)
            self._mark(record, joined)
            return joined.dbapi_connection
        routed = self._route.params(cparams, asyncpg=dialect.driver == "asyncpg")
        if routed is None:
            return None
        cparams.clear()
        cparams.update(routed)
        self._mark(record, self._route.real)
        if getattr(dialect, "is_async", False):
            record.info[_LOOP] = _running_loop()
        return None

    def _as_made(self, dialect: Dialect, cparams: dict[str, Any]) -> None:
        """A libpq connection to another database keeps its own options: the worker's
        ``search_path`` in ``PGOPTIONS`` (for what this process and its children connect to
        the configured database on their own) would name a schema that does not exist there."""
        if "options" in cparams or dialect.driver == "asyncpg" or is_the_plugins(cparams):
            return
        options = self._own_options()
        if options is not None:
            cparams["options"] = options

    def _mark(self, record: Any, route: object) -> None:
        record.info[_ROUTE] = route
        self._routed.add(record)

    def _lent_for(
        self, dialect: Dialect, cargs: list[Any], cparams: dict[str, Any]
    ) -> JoinedConnection:
        """The test's connection of ``dialect``'s driver: its own, its async side's, or one the
        router opens for the driver, kept from test to test."""
        assert self._joined is not None
        driver = _driver(dialect)
        joined = self._joined.get(driver)
        if joined is not None:
            return joined
        if driver[1]:
            side = CURRENT.aio
            if side is None or self._lending:
                raise self._cannot_lend(driver)
            connection = side.bind(None, driver[0])
            assert isinstance(connection, Connection)
            return self._join(connection.connection.dbapi_connection, driver)
        own = self._own.get(driver)
        if own is None:
            routed = self._route.params(cparams, asyncpg=False)
            if routed is None or self._lending:
                raise self._cannot_lend(driver)
            own = JoinedConnection(dialect.connect(*cargs, **routed), driver)
            self._own[driver] = own
            self._lent[id(own.dbapi_connection)] = own
            if self.own_connections is not None:
                self.own_connections.adopt(own.dbapi_connection)
        own.join()
        self._joined[driver] = own
        return own

    def _cannot_lend(self, driver: Driver) -> UowError:
        """The one line for an engine whose driver has no connection of the test's to join:
        while a build lends its connection (a seed taking nothing, ``env.py``'s engine), or an
        async engine outside a test's event loop."""
        name = f"{driver[0]} (async)" if driver[1] else driver[0]
        if self._lending:
            lent = ", ".join(other[0] for other in self._joined or {})
            return UowError(
                f"an application engine of driver {name} connected while pytest-uow builds the "
                f"worker namespace on its {lent} connection, which it lends only to engines of "
                f"that driver: name the application's driver in uow_database_url "
                f"(postgresql+{driver[0]}://...), or give the seed a Connection or Session"
            )
        return UowError(
            f"an application engine of driver {name} connected outside a test's event loop: "
            "pytest-uow lends async engines the test's own connection, on the test's loop"
        )

    def release_idle(self) -> None:
        """The worker database is about to be replaced: the application's idle connections to it
        are closed (one the application still holds is left to the reset, which names its
        test)."""
        for entry in list(self._routed):
            if not entry.info.get(_OUT) and entry.info.get(_ROUTE) is not None:
                entry.info.pop(_ROUTE)
                if entry.dbapi_connection is not None:
                    entry.invalidate()

    def end_transactions(self) -> None:
        """A test that committed for real ends: a transaction an application connection still
        holds open in the namespace (a session-scoped ``Session(engine)`` the tests share, left
        flushed or at a REPEATABLE READ snapshot) is rolled back, so that the reset waits for no
        lock and the next test starts from a new snapshot. The application's ``Session`` keeps
        its connection: its next statement begins a new transaction."""
        for entry in list(self._routed):
            dbapi_connection = entry.dbapi_connection
            if not entry.info.get(_OUT) or entry.info.get(_ROUTE) is not self._route.real:
                continue
            status = getattr(getattr(dbapi_connection, "info", None), "transaction_status", 0)
            if status in _IN_A_TRANSACTION:
                dbapi_connection.rollback()

    def _checking_out(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        route = record.info.get(_ROUTE)
        if route is None:
            return
        CURRENT.note_reached()
        if self._joined is None:
            CURRENT.needs_isolation()
        if self._joined is not None and not record.info.get(_AUTOCOMMIT):
            fits = isinstance(route, JoinedConnection) and self._joined.get(route.driver) is route
        else:
            # An async connection is the loop's it was made on: pytest-asyncio's loop per test
            # would otherwise meet the last test's, in a pool the application keeps.
            fits = route is self._route.real and record.info.get(_LOOP) in (None, _running_loop())
        if not fits:
            raise DisconnectionError("pytest-uow: this connection was made for another route")
        record.info[_OUT] = True

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        if _ROUTE in record.info:
            record.info[_OUT] = False


_INSTALLED: list[EngineRouter] = []  # the router of this process, while it is installed


@contextlib.contextmanager
def lending(connection: Connection, every_engine: bool = False) -> Iterator[None]:
    """For the block, the application's engines on the configured database share
    ``connection`` (and its transaction), as they share a rollback test's: a seed that uses
    the application's own engines writes the baseline through the build's connection. With
    ``every_engine``, so does every engine that is not the plugin's, whatever its URL names: a
    migration environment's ``env.py`` that builds its own engine."""
    if not _INSTALLED:
        yield
        return
    router = _INSTALLED[-1]
    outer = router.lend_during(connection, every_engine)
    try:
        yield
    finally:
        router.end_lending(outer)


def adopt(dialect: Dialect) -> bool:
    """Route ``dialect``'s engine from now on, whatever its URL names (see
    ``EngineRouter.adopt``); False where this process routes nothing."""
    if not _INSTALLED:
        return False
    _INSTALLED[-1].adopt(dialect)
    return True


def route_connection(
    dialect: Dialect, record: Any, cargs: list[Any], cparams: dict[str, Any]
) -> Any:
    """What the router's ``do_connect`` gives a connection of ``dialect`` (adopted since the
    router saw it): a lent DBAPI connection, or None with ``cparams`` routed."""
    return _INSTALLED[-1].connecting(dialect, record, cargs, cparams) if _INSTALLED else None


def is_routed(info: Mapping[str, Any]) -> bool:
    """Whether the pool entry with this ``info`` (``Connection.info``, a ``do_connect``
    record's) was given a route."""
    return _ROUTE in info
