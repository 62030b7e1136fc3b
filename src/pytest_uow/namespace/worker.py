"""The worker's namespace: opened once per worker, when the worker first needs it, and closed
(dropped, or kept) at its end. It hands out what it opened: the engines, the baseline that resets
return to, the async engines.

An error while opening it is kept and handed to every test that needs the namespace as the same
one line, instead of a traceback per test. So is the loss of the server later in the run: once a
fresh connection fails too, the remaining tests fail at once with that reason instead of each
waiting for its own error.
"""

from __future__ import annotations

import contextlib
import os
import time

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from pytest_uow.aio.engines import AsyncWorker
from pytest_uow.diagnosis import is_connection_failure, one_line, remedy, server_code
from pytest_uow.errors import DatabaseSetupError, UowError
from pytest_uow.isolation.base import IsolationMode, Template
from pytest_uow.leftovers.kept import read_rows, write_rows
from pytest_uow.leftovers.locks import (
    busy_backends,
    describe_backends,
    is_lock_timeout,
    lock_holders,
)
from pytest_uow.leftovers.naming import ConnectionNames, backend_pid
from pytest_uow.marks import KEPT_FAILED, mark
from pytest_uow.namespace.baseline import Baseline
from pytest_uow.namespace.cleaning import Table
from pytest_uow.namespace.engines import WorkerEngines
from pytest_uow.namespace.environment import Environment
from pytest_uow.namespace.opening import OpenedNamespace, open_namespace
from pytest_uow.routing import EngineRouter, WorkerRoute
from pytest_uow.server.address import ServerAddress
from pytest_uow.sources.base import BuildFailed, SchemaSource
from pytest_uow.workers import Worker

# undefined_table, undefined_function, undefined_object: what the namespace was not built with.
_NOT_BUILT = frozenset({"42P01", "42883", "42704"})


class WorkerNamespace:
    """The worker's namespace on the run's server, built by ``source``."""

    def __init__(
        self,
        address: ServerAddress,
        worker: Worker,
        mode: IsolationMode,
        prefix: str,
        source: SchemaSource,
        *,
        rebuild: bool = False,
        keep: bool = False,
        async_driver: str | None = None,
        lock_option: str | None = None,
    ) -> None:
        """``lock_option`` sets ``uow_lock_timeout`` on every connection to the namespace (a
        libpq ``options`` item)."""
        self._address = address
        self._worker = worker
        self._mode = mode
        self._prefix = prefix
        self._rebuild = rebuild
        self._source = source
        self._keep = keep
        self._async_driver = async_driver
        self._lock_option = lock_option
        self.name = worker.namespace_name(prefix)  # the worker schema, or the worker database
        self.noun = mode.noun  # "worker schema", "worker database"
        self.label = f"{mode.noun} {self.name}"  # as messages name it
        self.names = ConnectionNames(worker.application_name)
        self._opened: OpenedNamespace | None = None
        self._engines: WorkerEngines | None = None
        self._baseline: Baseline | None = None
        self._aio: AsyncWorker | None = None
        self._environment = Environment(self.names)
        self._error: DatabaseSetupError | None = None
        self._opening = False
        self._route = WorkerRoute(self._routed_to)
        # The application's engines on the configured database, routed here (none can name
        # the throwaway server: then only the engines of objects the settings name are).
        self.router = EngineRouter(address.named_by_settings, self._route, self._options_elsewhere)
        # Reaping, creating the namespace and building its tables (or the template): seconds.
        self.ready_seconds: float | None = None
        self.reaped: list[str] = []
        self.kept_failed: list[str] = []  # the namespaces keeping failed tests' rows
        self._kept_failed = 0
        self.dropped_kept: list[str] = []  # kept by earlier runs, replaced by this one's

    @property
    def is_open(self) -> bool:
        return self._engines is not None

    @property
    def lost(self) -> bool:
        return self._error is not None and self._engines is not None

    def open(self) -> WorkerNamespace:
        """Create the namespace and its tables (once); raise the kept error if that failed."""
        if self._error is not None:
            raise self._error
        if self._engines is None:
            self._opening = True
            try:
                self._open()
            finally:
                self._opening = False
        return self

    def _open(self) -> None:
        opened: OpenedNamespace | None = None
        engines: WorkerEngines | None = None
        try:
            opened = open_namespace(
                self._address,
                self._worker,
                self._mode,
                self._prefix,
                self._rebuild,
                option=self._lock_option,
            )
            engines = WorkerEngines(opened.server, opened.url, self.names)
            # From here on, database work only (the first engine imports the dialect: 40 ms).
            started = time.perf_counter()
            self.reaped = opened.isolation.reap(opened.server)
            opened.isolation.create(opened.server, engines.engine, self._source)
            baseline = Baseline(
                engines,
                opened.isolation,
                self._source,
                self.names,
                self._release_async,
                self.router.end_transactions,
            )
            baseline.take()
        except (UowError, SQLAlchemyError, ValueError, OSError) as error:
            if engines is not None:
                engines.dispose()
            if opened is not None:
                opened.release()
            self._error = DatabaseSetupError(
                f"pytest-uow could not create {self.label} on {self._address.where}: "
                f"{one_line(error)}{self._remedy(error)}"
            )
            raise self._error from error
        self._opened, self._engines, self._baseline = opened, engines, baseline
        self.router.own_connections = baseline.levels
        self.names.watch_every_engine()
        self.ready_seconds = round(time.perf_counter() - started, 4)
        self._environment.export(opened.isolation.environment(opened.url))

    def _remedy(self, error: BaseException) -> str:
        cause = error.error if isinstance(error, BuildFailed) else error
        what_to_do = remedy(
            cause,
            self._address.setting,
            self._source.description,
            isinstance(error, BuildFailed),
            self._mode.privilege,
        )
        return f"; {what_to_do}" if what_to_do else ""

    # What the namespace hands out, once open.

    @property
    def engines(self) -> WorkerEngines:
        self.open()
        assert self._engines is not None
        return self._engines

    @property
    def baseline(self) -> Baseline:
        """The reset target: what every reset returns the namespace to."""
        self.open()
        assert self._baseline is not None
        return self._baseline

    @property
    def url(self) -> URL:
        return self.engines.url

    @property
    def schema(self) -> str:
        """The schema unqualified names land in."""
        self.open()
        assert self._opened is not None
        return self._opened.isolation.schema

    @property
    def template(self) -> Template | None:
        """The template the namespace was cloned from (database mode)."""
        return self._opened.isolation.template if self._opened is not None else None

    @property
    def aio(self) -> AsyncWorker:
        """The worker's async engines, one per event loop (opened when a test first needs one)."""
        if self._aio is None:
            if self._async_driver is None:
                raise UowError(
                    "pytest-uow's async sessions need an async driver: pip install "
                    "'pytest-uow[async]' (asyncpg), or psycopg"
                )
            self._aio = AsyncWorker(self.url, self._async_driver)
        return self._aio

    @property
    def drivers_used(self) -> set[str]:
        """The drivers the tests' routed engines and async sessions connected with."""
        used = set(self.router.drivers_used)
        if self._aio is not None:
            used |= self._aio.drivers_used
        return used

    def _release_async(self) -> None:
        """The worker database is about to be replaced: what connects to it lets go."""
        self._route.rebuilt()
        self.router.release_idle()
        self.router.close_own()
        if self._aio is not None:
            self._aio.release_connections()

    def _routed_to(self) -> tuple[URL, str | None] | None:
        """Where the application's routed connections go: the namespace's URL, and its
        ``search_path`` where it is one schema of the configured database; None while it is
        being built."""
        if self._opening:
            return None
        self.open()
        assert self._opened is not None
        return self.url, self._opened.isolation.search_path

    def _options_elsewhere(self) -> str | None:
        """The libpq options of a connection to another database, where the worker exported
        ``PGOPTIONS``: what it was before."""
        if not self._environment.exported("PGOPTIONS"):
            return None
        return self._environment.before("PGOPTIONS") or ""

    def route_engines(self) -> None:
        """From now on until the namespace closes, the application's engines on the configured
        database reach the namespace."""
        self.router.install()

    def explain(self, error: SQLAlchemyError, failed: str) -> str:
        """The one line a test fails with after ``error``; ``failed`` says what failed.

        If the error may mean that the server went away, a fresh connection decides: when it
        fails too, the server is lost, and every later test that needs it fails at once with
        this same line.
        """
        if self._engines is not None and is_connection_failure(error):
            try:
                with self._engines.engine.connect() as connection:
                    connection.exec_driver_sql("SELECT 1")
            except SQLAlchemyError as probe_error:
                self._error = DatabaseSetupError(
                    f"pytest-uow lost {self._address.where} ({failed}): {one_line(probe_error)}; "
                    "every later test that needs the database fails with this reason"
                )
                return str(self._error)
        return f"pytest-uow {failed}: {one_line(error)}"

    def failure_section(self, error: BaseException) -> str | None:
        """For a test that failed on a database error the plugin may have caused: what it did
        to the connection, and the remedy; None for any other error."""
        line = self.lock_timeout_line(error)
        if line is not None or self._opened is None:
            return line
        code = server_code(error)
        isolation = self._opened.isolation
        if code == "3F000" and self._environment.exported("PGOPTIONS"):
            return (
                f"pytest-uow exports PGOPTIONS={os.environ.get('PGOPTIONS', '')!r} to this "
                "process and its children, so that the libpq connections they open to "
                f"{self._address.where} reach {self.label}; a libpq connection to another "
                "database reads it too, and that schema does not exist there. Give that "
                "connection its own options (psycopg2.connect(..., options=''), or "
                "?options= in its URL), or connect through SQLAlchemy: pytest-uow leaves "
                "engines on other databases as made"
            )
        if code in _NOT_BUILT:
            where = (
                f"search_path {isolation.search_path}"
                if isolation.search_path
                else "the worker database"
            )
            return (
                f"pytest-uow points the connections to the configured database at {self.label} "
                f"({where}), which holds what {self._source.description} builds, and nothing "
                "of the database's own: build what the test needs there (a model in the "
                "metadata, a migration, the seed), or qualify what lives elsewhere with its "
                "schema"
            )
        return None

    def where_the_data_was(self, connection: Connection, strategy: str) -> list[str]:
        """For a failed test's report, read before its reset: the namespace and strategy, the
        tables the test wrote as its own ``connection`` sees them (its uncommitted rows too),
        and the worker's connections still open."""
        lines = [f"{self.label}, strategy {strategy}"]
        try:
            written = self.baseline.written(connection)
        except SQLAlchemyError as error:
            lines.append(
                f"the tables could not be read on the test's connection: {one_line(error)}"
            )
        else:
            lines.append(
                "tables that left the baseline, as the test's connection sees them: "
                + (
                    ", ".join(
                        f"{name} ({rows} row{'s' if rows != 1 else ''}, {new} not the baseline's)"
                        for name, rows, new in written
                    )
                    or "none"
                )
            )
        own = [pid for pid in [backend_pid(connection.connection.dbapi_connection)] if pid]
        try:
            with self.engines.engine.connect() as lookup:
                busy = busy_backends(lookup, self.names, own)
        except SQLAlchemyError as error:
            lines.append(f"the worker's connections could not be looked up: {one_line(error)}")
        else:
            lines.append(
                "connections of this worker in a transaction or busy: "
                + (describe_backends(busy) if busy else "none")
            )
        return lines

    def keep_failed(self, connection: Connection) -> str:
        """What a failed test left, read on its own ``connection`` before its reset, kept in a
        namespace of its own (``<worker namespace>_f<n>``) that the run leaves in place; the
        line naming it, with the ``psql`` command that opens it."""
        assert self._opened is not None
        isolation = self._opened.isolation
        try:
            tables = self.baseline.tables_in_order(connection)
            rows = read_rows(connection, [(t.qualified_name, t.columns) for t in tables])
        except SQLAlchemyError as error:
            return f"the test's rows could not be read to be kept: {one_line(error)}"
        except Exception as error:  # the driver's own, from its copy API
            return f"the test's rows could not be read to be kept: {error}"
        self._kept_failed += 1
        name = f"{self.name}_f{self._kept_failed}"
        comment = mark(KEPT_FAILED, self._worker.run_id, self._worker.name, self._kept_failed)
        in_database = isolation.search_path is None
        noun = "database" if in_database else "schema"
        try:
            url = isolation.create_kept(self._opened.server, name, comment)
            engine = create_engine(url, poolclass=NullPool)
            try:
                with engine.begin() as kept:
                    targets = self._kept_tables(kept, tables, name, in_database)
                    write_rows(
                        kept,
                        {
                            targets[t.qualified_name]: (t.columns, rows[t.qualified_name])
                            for t in tables
                            if t.qualified_name in rows
                        },
                    )
            finally:
                engine.dispose()
        except (SQLAlchemyError, UowError) as error:
            return f"the test's rows could not be kept in {noun} {name}: {one_line(error)}"
        self.kept_failed.append(name)
        shown = url.set(drivername="postgresql", password=None).set(
            query={key: value for key, value in url.query.items() if key in ("host", "options")}
        )
        return (
            f"kept what the test left, before its reset, in {noun} {name}: "
            f"psql '{shown.render_as_string(hide_password=False)}' "
            "(--uow-drop-kept removes it)"
        )

    @staticmethod
    def _kept_tables(
        kept: Connection, tables: list[Table], name: str, in_database: bool
    ) -> dict[str, str]:
        """The kept namespace's tables, empty, by the worker table each stands for: a kept
        database's are the template's (emptied of the baseline's rows); a kept schema's are
        made like the worker's (columns and NOT NULL, no keys: the rows go in as they were)."""
        if in_database:
            if tables:
                kept.exec_driver_sql(f"TRUNCATE {', '.join(t.qualified_name for t in tables)}")
            return {t.qualified_name: t.qualified_name for t in tables}
        schema = kept.dialect.identifier_preparer.quote_schema(name)
        targets = {}
        for table in tables:
            target = f"{schema}.{table.qualified_name[len(table.schema) + 1 :]}"
            kept.exec_driver_sql(f"CREATE TABLE {target} (LIKE {table.qualified_name})")
            targets[table.qualified_name] = target
        return targets

    def lock_timeout_line(self, error: BaseException) -> str | None:
        """For a test that failed on ``uow_lock_timeout``: who holds locks on the namespace
        now, and the tests that left them; None for any other error."""
        if not is_lock_timeout(error) or self._engines is None or self._opened is None:
            return None
        try:
            with self._engines.engine.connect() as connection:
                holders = lock_holders(connection, self._opened.isolation.scope, self.names)
        except SQLAlchemyError as lookup_error:
            return f"a statement waited on a lock past uow_lock_timeout ({one_line(lookup_error)})"
        held = describe_backends(holders) if holders else "nobody holds it any more"
        return (
            f"a statement of this test waited on a lock of {self.label} past uow_lock_timeout; "
            f"held by: {held}"
        )

    def close(self) -> str | None:
        """Drop the namespace (unless keep is on); return a warning instead of raising.

        After the server was lost there is nothing to drop; if it comes back, the next run
        reaps the namespace.
        """
        self.router.uninstall()
        if self._engines is None or self._opened is None or self._baseline is None:
            return None
        lost = self.lost
        if self._aio is not None:
            with contextlib.suppress(SQLAlchemyError, UowError):
                self._aio.close()
            self._aio = None
        self._baseline.close()
        engines, self._engines = self._engines, None
        opened = self._opened
        self._environment.restore()
        self.names.stop_watching_every_engine()
        engines.dispose()
        try:
            if lost:
                return None
            if self._keep:
                self.dropped_kept = opened.isolation.drop_kept(opened.server, self._worker.name)
                opened.isolation.keep(opened.server)
                return None
            ended = opened.isolation.drop(opened.server, self.names)
        except (SQLAlchemyError, UowError) as error:
            return f"pytest-uow could not drop {self.label}: {one_line(error)}"
        finally:
            opened.release()
        if ended:
            return (
                f"pytest-uow terminated {len(ended)} connection(s) of this worker that still "
                f"held locks on {self.label} at the end of the run, so "
                f"that it could be dropped: {describe_backends(ended)}; close connections, "
                "sessions and threads in the tests that left them, or their fixtures"
            )
        return None
