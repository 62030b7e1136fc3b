"""The worker's database: its namespace on the run's server, the engine that uses it, and
whether the namespace holds only its baseline.

Prepared once per worker, when the worker first needs it. An error while preparing it is kept
and handed to every test that needs the database as the same one line, instead of a traceback
per test. So is the loss of the server later in the run: once a fresh connection fails too,
the remaining tests fail at once with that reason instead of each waiting for its own error.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from pytest_uow.cleaning import TableCleaner
from pytest_uow.compat import NullPool, create_engine
from pytest_uow.config import Settings
from pytest_uow.diagnosis import is_connection_failure, one_line, remedy
from pytest_uow.errors import DatabaseSetupError, SourceError, UowError
from pytest_uow.isolation.base import Isolation, Template, identified
from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.leaks import LeakDetector
from pytest_uow.locks import Backend, describe_backends
from pytest_uow.loops import AsyncWorker
from pytest_uow.naming import ConnectionNames
from pytest_uow.server import RunServer
from pytest_uow.sources import SchemaSource
from pytest_uow.workers import Worker


def _requested_isolation_level(bind: object) -> str | None:
    """The isolation level an application's engine asks for, if any.

    ``Engine.execution_options(isolation_level=...)`` is public; ``create_engine(
    isolation_level=...)``, the Cosmic Python spelling, is kept by SQLAlchemy only on the dialect
    (under a name that changed in 2.0).
    It is read, never written, and a SQLAlchemy without it just means the default level.
    """
    if not isinstance(bind, Engine):
        return None
    level: Any = bind.get_execution_options().get("isolation_level")
    if level is None:
        level = getattr(bind.dialect, "_on_connect_isolation_level", None)
    if level is None:  # SQLAlchemy 1.4 keeps it here
        level = getattr(bind.dialect, "isolation_level", None)
    return str(level) if level is not None else None


def _server_hung_up(dbapi_connection: Any) -> bool:
    """Whether the server closed this idle connection: it has something to read only then."""
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return False
    readable, _, _ = select.select([fileno()], [], [], 0)
    return bool(readable)


def _discard_connections_the_server_closed(engine: Engine) -> None:
    """Replace a pooled connection that the server closed (it restarted, or ended the backend)
    before a test gets it, so that a server that is gone shows at the test's setup, as the one
    reason, not inside the test.

    An idle connection has nothing to read unless the server hung up, so the check is a poll
    of its socket: about 1 µs, where ``pool_pre_ping``'s round trip measured 0.13 ms per test.
    """

    @event.listens_for(engine, "checkout")
    def check(dbapi_connection: Any, record: object, proxy: object) -> None:
        if _server_hung_up(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")


class _Environment:
    """Variables exported for libpq connections the application opens on its own, and given
    back their previous values at the end."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def export(self, variables: dict[str, str]) -> None:
        for name, value in variables.items():
            self._saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


class _NotedBuild:
    """The schema source, noting whether building the tables began: an error after that is
    the tables' (the remedy says so), not the server's."""

    def __init__(self, source: SchemaSource) -> None:
        self._source = source
        self.description = source.description
        self.began = False

    def build(self, connection: Connection) -> None:
        self.began = True
        self._source.build(connection)

    def ddl(self, dialect: Dialect) -> str | None:
        return self._source.ddl(dialect)

    def fill(self, connection: Connection) -> None:
        self._source.fill(connection)

    def identity(self, dialect: Dialect) -> str:
        return self._source.identity(dialect)

    def tables_naming_a_schema(self) -> list[str]:
        return self._source.tables_naming_a_schema()

    def discard_cache(self) -> None:
        self._source.discard_cache()

    def notes(self) -> list[str]:
        return self._source.notes()


class WorkerDatabase:
    """The worker's namespace, built by the schema source; implements the strategies'
    ``ResetTarget``, and is the one owner of "the namespace holds only its baseline"."""

    def __init__(
        self, settings: Settings, worker: Worker, server: RunServer | None, isolation: Isolation
    ) -> None:
        self._settings = settings
        self._worker = worker
        self._server = server
        self.isolation = isolation
        self._source = settings.source
        self._engine: Engine | None = None
        self._server_engine: Engine | None = None
        self._url: URL | None = None
        # Reaping, creating the namespace and building its tables (or the template): seconds.
        self.ready_seconds: float | None = None
        self._error: DatabaseSetupError | None = None
        self._environment = _Environment()
        self._cleaner: TableCleaner | None = None
        self._leak_detector: LeakDetector | None = None
        self._engines_by_isolation: dict[str, Engine] = {}
        self._kept_connection: Connection | None = None
        self._ended: list[Backend] = []  # ended by a rebuild, until the test life asks
        self.names = ConnectionNames(worker.application_name)
        self.reaped: list[str] = []
        self.dropped_kept: list[str] = []  # kept by earlier runs, replaced by this one's
        # False once a test may have advanced a sequence, or left rows, without a reset after.
        self._at_baseline = True
        # Whether the build leaves rows (a seed, migrations): a rebuild then takes the baseline
        # again at once (50 ms at 200 tables); without, it stays "every table empty".
        self._baseline_has_rows = False
        self._async_worker: AsyncWorker | None = None

    @property
    def name(self) -> str:
        """The namespace's name (the worker schema, or the worker database)."""
        return self.isolation.name

    @property
    def label(self) -> str:
        """The namespace as messages name it: ``worker schema uow_1a2b_gw0``."""
        return f"{self.isolation.noun} {self.name}"

    @property
    def schema(self) -> str:
        """The schema unqualified names land in."""
        return self.isolation.schema

    @property
    def template(self) -> Template | None:
        """The template the namespace was cloned from (database mode)."""
        return self.isolation.template

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> Engine:
        """The engine whose every connection uses the worker's namespace."""
        self.open()
        assert self._engine is not None
        return self._engine

    @property
    def url(self) -> URL:
        self.open()
        assert self._url is not None
        return self._url

    @property
    def where(self) -> str:
        """The server, as messages name it (the password hidden)."""
        url = self._settings.url.value
        return url.render_as_string(hide_password=True) if url else "the throwaway server"

    def open(self) -> None:
        """Create the namespace and its tables (once); raise the kept error if that failed."""
        if self._error is not None:
            raise self._error
        if self._engine is not None:
            return
        source = _NotedBuild(self._source)
        server_engine = None
        try:
            server_url = self._settings.url.value
            if server_url is None:
                assert self._server is not None
                server_url = self._server.url()
            application_name = self._worker.application_name
            server_engine = create_engine(identified(server_url, application_name))
            url = self.isolation.select(server_url, application_name)
            engine = create_engine(url)
            _discard_connections_the_server_closed(engine)
            self.names.watch(engine)
            # From here on, database work only (the first engine imports the dialect: 40 ms).
            started = time.perf_counter()
            self.reaped = self.isolation.reap(server_engine)
            self.isolation.create(server_engine, engine, source)
            cleaner = TableCleaner(engine, self.isolation.scope, self.names)
            cleaner.take_baseline()
        except (UowError, SQLAlchemyError, ValueError, OSError) as error:
            self.isolation.release()
            if server_engine is not None:
                server_engine.dispose()
            self._error = DatabaseSetupError(
                f"pytest-uow could not create {self.label} on "
                f"{self.where}: {one_line(error)}"
                f"{self._remedy(error, source.began and not isinstance(error, SourceError))}"
            )
            raise self._error from error
        self._engine, self._server_engine, self._url = engine, server_engine, url
        self.names.watch_every_engine()
        self._cleaner = cleaner
        self._baseline_has_rows = cleaner.baseline_has_rows
        self.ready_seconds = round(time.perf_counter() - started, 4)
        self._environment.export(
            {**self.isolation.environment(url), "PGAPPNAME": self.names.current}
        )

    def name_connections_after(self, test: str | None) -> None:
        """Connections opened from now on carry ``test`` (a node id; None for no test) in
        their application name: the engines' that connect with the worker's name (see
        ``naming.py``), and libpq's that read ``PGAPPNAME``."""
        self.names.test = test
        if self._engine is not None:
            os.environ["PGAPPNAME"] = self.names.current

    def drop_kept(self) -> list[str]:
        """Drop the namespaces earlier runs kept (``uow_drop_kept``), before any worker opens
        its own; return their names."""
        server_url = self._settings.url.value
        assert server_url is not None  # the setting needs one
        server_engine = create_engine(
            identified(server_url, self._worker.application_name), poolclass=NullPool
        )
        try:
            return self.isolation.drop_kept(server_engine, None)
        finally:
            self.isolation.release()
            server_engine.dispose()

    def _remedy(self, error: BaseException, creating_tables: bool) -> str:
        url = self._settings.url
        server = f"uow_database_url ({url.source})" if url.value is not None else None
        privilege = ISOLATIONS[self._settings.isolation.value].privilege
        what_to_do = remedy(error, server, self._source.description, creating_tables, privilege)
        return f"; {what_to_do}" if what_to_do else ""

    def explain(self, error: SQLAlchemyError, failed: str) -> str:
        """The one line a test fails with after ``error``; ``failed`` says what failed.

        If the error may mean that the server went away, a fresh connection decides: when it
        fails too, the server is lost, and every later test that needs it fails at once with
        this same line.
        """
        if self._engine is not None and is_connection_failure(error):
            try:
                with self._engine.connect() as connection:
                    connection.exec_driver_sql("SELECT 1")
            except SQLAlchemyError as probe_error:
                self._error = DatabaseSetupError(
                    f"pytest-uow lost {self.where} ({failed}): {one_line(probe_error)}; "
                    "every later test that needs the database fails with this reason"
                )
                return str(self._error)
        return f"pytest-uow {failed}: {one_line(error)}"

    @property
    def lost(self) -> bool:
        return self._error is not None and self._engine is not None

    def take_ended_backends(self) -> list[Backend]:
        """The worker's backends terminated for holding locks (or for staying connected to a
        worker database that was replaced) since the last call."""
        ended, self._ended = self._ended, []
        if self._cleaner is not None:
            ended, self._cleaner.ended = ended + self._cleaner.ended, []
        return ended

    @property
    def _table_cleaner(self) -> TableCleaner:
        if self._cleaner is None:
            self._cleaner = TableCleaner(self.engine, self.isolation.scope, self.names)
        return self._cleaner

    @property
    def leak_detector(self) -> LeakDetector:
        """Finds the rows a test left behind (``--uow-check-leaks``). Where the worker has a
        database of its own, rows written outside it are looked for in the server URL's."""
        if self._leak_detector is None:
            whole_database = self.isolation.scope.schema is None
            outside = self._server_engine if whole_database else None
            self._leak_detector = LeakDetector(
                self.engine, self.isolation.scope, outside, self._baseline_rows
            )
        return self._leak_detector

    def _baseline_rows(self) -> dict[str, tuple[int, tuple[str, ...]]]:
        """Per table with baseline rows: how many, and the transactions that wrote them."""
        rows = self._table_cleaner.baseline_rows
        return {name: (baseline.count, baseline.xmins) for name, baseline in rows.items()}

    # The ResetTarget of the strategies, and the baseline it owns.

    def test_connection(self) -> Connection:
        """A connection kept from test to test (the rollback strategy's): a pool checkout and
        checkin per test cost about as much as the rest of the strategy. It is replaced when it
        cannot serve as a fresh one would: closed or invalidated by the test, given execution
        options (an isolation level, say) by it, or hung up on by the server."""
        kept = self._kept_connection
        if kept is not None and (
            kept.closed
            or kept.invalidated
            or kept.get_execution_options() != self.engine.get_execution_options()
            or _server_hung_up(kept.connection.dbapi_connection)
        ):
            self._discard_kept_connection()
            kept = None
        if kept is None:
            kept = self._kept_connection = self.engine.connect()
            self.names.forget(kept)  # the plugin's, from test to test
        else:
            self._end_kept_transaction()
        return kept

    def _end_kept_transaction(self) -> None:
        """A session the test did not close may begin a transaction on the kept connection
        when it is collected; ended before anything that needs the tables' locks."""
        kept = self._kept_connection
        if kept is not None and not kept.closed and kept.in_transaction():
            kept.rollback()

    def _discard_kept_connection(self) -> None:
        kept, self._kept_connection = self._kept_connection, None
        if kept is not None:
            with contextlib.suppress(SQLAlchemyError):
                kept.invalidate()
            kept.close()

    def cancel_queries_of(self, connection: Connection) -> None:
        """Cancel what ``connection``'s backend is running (a request the live server still
        serves on the test's connection), from a connection of the server's, so that the
        reset does not wait for it."""
        with contextlib.suppress(SQLAlchemyError):
            pid = connection.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
            assert self._server_engine is not None
            with self._server_engine.connect() as server:
                server.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})

    def sequences_may_have_advanced(self) -> None:
        self._at_baseline = False

    def may_hold_rows(self) -> None:
        """Something outside the strategies (a failed reset) may have left rows."""
        self._at_baseline = False

    def ensure_baseline(self) -> None:
        if not self._at_baseline:
            self.empty()

    def empty(self) -> None:
        """Return the tables that left the baseline to it (the truncate strategy, and leaks
        found)."""
        self.restore_baseline()

    def restore_baseline(self) -> list[str]:
        """Return the tables that left the baseline to it, and name them. Where the baseline's
        copies were lost with the cleaner's connection (after an error, which was reported),
        the namespace is rebuilt instead, and no table is named: what changed is unknown."""
        self._end_kept_transaction()
        self._at_baseline = False
        cleaner = self._table_cleaner
        if cleaner.baseline_lost:
            self.rebuild()
            return []
        changed = cleaner.clean()
        self._at_baseline = True
        return changed

    def rebuild(self) -> None:
        """Drop the namespace and build it again (recreate). Where the rebuild replaces a
        database, the worker's own connections to it go first: a database cannot be dropped while
        anything is connected to it. A worker schema is rebuilt beside them (reconnecting all
        of them cost ``recreate`` 5 ms a test at 10 tables)."""
        engine = self.engine
        self._at_baseline = False
        if self.isolation.rebuild_replaces_database:
            self._close_connections()
            engine.dispose()
            if self._async_worker is not None:
                self._async_worker.release_connections()
        else:
            self._end_kept_transaction()
            if self._cleaner is not None:
                self._cleaner.forget_tables()
        assert self._server_engine is not None
        self._ended += self.isolation.rebuild(self._server_engine, engine, self._source, self.names)
        if self._baseline_has_rows:
            self._table_cleaner.take_baseline()
        self._at_baseline = True

    def _close_connections(self) -> None:
        """The kept test connection, the cleaner's and the leak detector's (which reconnect
        when next needed)."""
        self._discard_kept_connection()
        if self._cleaner is not None:
            self._ended += self._cleaner.ended
            self._cleaner.close()
            self._cleaner = None
        if self._leak_detector is not None:
            self._leak_detector.close()

    @property
    def async_worker(self) -> AsyncWorker:
        """The worker's async engines, one per event loop (opened when a test first needs one)."""
        if self._async_worker is None:
            driver = self._settings.async_driver
            if driver is None:
                raise UowError(
                    "pytest-uow's async sessions need an async driver: pip install "
                    "'pytest-uow[async]' (asyncpg), or psycopg"
                )
            self._async_worker = AsyncWorker(self.url, driver)
        return self._async_worker

    def isolation_level_of(self, original_bind: object) -> str | None:
        """The isolation level an application's own engine (sync or async) asked for."""
        return _requested_isolation_level(getattr(original_bind, "sync_engine", original_bind))

    def engine_like(self, original_bind: object) -> Engine:
        """The worker engine, at the isolation level the application's own engine asked for."""
        level = _requested_isolation_level(original_bind)
        if level is None:
            return self.engine
        if level not in self._engines_by_isolation:
            self._engines_by_isolation[level] = self.engine.execution_options(isolation_level=level)
        return self._engines_by_isolation[level]

    def close(self) -> str | None:
        """Drop the namespace (unless keep is on); return a warning instead of raising.

        After the server was lost there is nothing to drop; if it comes back, the next run
        reaps the namespace.
        """
        if self._engine is None:
            return None
        lost = self.lost
        if self._async_worker is not None:
            with contextlib.suppress(SQLAlchemyError, UowError):
                self._async_worker.close()
            self._async_worker = None
        self._close_connections()
        self._leak_detector = None
        engine, self._engine = self._engine, None
        server_engine, self._server_engine = self._server_engine, None
        assert server_engine is not None
        self._environment.restore()
        self.names.stop_watching_every_engine()
        engine.dispose()
        try:
            if lost:
                return None
            if self._settings.keep.value:
                self.dropped_kept = self.isolation.drop_kept(server_engine, self._worker.name)
                self.isolation.keep(server_engine)
                return None
            ended = self.isolation.drop(server_engine, self.names)
        except (SQLAlchemyError, UowError) as error:
            return f"pytest-uow could not drop {self.label}: {one_line(error)}"
        finally:
            self.isolation.release()
            engine.dispose()
            server_engine.dispose()
        if ended:
            return (
                f"pytest-uow terminated {len(ended)} connection(s) of this worker that still "
                f"held locks on {self.label} at the end of the run, so "
                f"that it could be dropped: {describe_backends(ended)}; close connections, "
                "sessions and threads in the tests that left them, or their fixtures"
            )
        return None
