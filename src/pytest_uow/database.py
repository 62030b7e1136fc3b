"""The worker's isolated database: its schema on the run's server, and the engine that uses it.

Prepared once per worker, when the worker first needs it. An error while preparing it is kept
and handed to every test that needs the database as the same one line, instead of a traceback
per test. So is the loss of the server later in the run: once a fresh connection fails too,
the remaining tests fail at once with that reason instead of each waiting for its own error.
"""

from __future__ import annotations

import os
import select
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from pytest_uow.cleaning import TableCleaner
from pytest_uow.config import Settings, load_metadata
from pytest_uow.diagnosis import is_connection_failure, one_line, remedy
from pytest_uow.errors import DatabaseSetupError, UowError
from pytest_uow.leaks import LeakDetector
from pytest_uow.locks import Backend, describe_backends
from pytest_uow.schema import (
    KEPT,
    OWNED,
    comment_sql,
    compile_ddl,
    create_schema,
    drop_schema,
    mark_kept,
    reap_abandoned,
    release_lease,
    take_lease,
    worker_url,
)
from pytest_uow.server import RunServer
from pytest_uow.workers import Worker


def _requested_isolation_level(bind: object) -> str | None:
    """The isolation level an application's engine asks for, if any.

    ``Engine.execution_options(isolation_level=...)`` is public; ``create_engine(
    isolation_level=...)``, the Cosmic Python spelling, is kept by SQLAlchemy only on the dialect.
    It is read, never written, and a SQLAlchemy without it just means the default level.
    """
    if not isinstance(bind, Engine):
        return None
    level: Any = bind.get_execution_options().get("isolation_level")
    if level is None:
        level = getattr(bind.dialect, "_on_connect_isolation_level", None)
    return str(level) if level is not None else None


def _discard_connections_the_server_closed(engine: Engine) -> None:
    """Replace a pooled connection that the server closed (it restarted, or ended the backend)
    before a test gets it, so that a server that is gone shows at the test's setup, as the one
    reason, not inside the test.

    An idle connection has nothing to read unless the server hung up, so the check is a poll
    of its socket: about 1 µs, where ``pool_pre_ping``'s round trip measured 0.13 ms per test.
    """

    @event.listens_for(engine, "checkout")
    def check(dbapi_connection: Any, record: object, proxy: object) -> None:
        fileno = getattr(dbapi_connection, "fileno", None)
        if fileno is not None:
            readable, _, _ = select.select([fileno()], [], [], 0)
            if readable:
                raise DisconnectionError("the server closed this pooled connection")


class WorkerDatabase:
    """A schema of this worker's own, created from the application's MetaData."""

    def __init__(self, settings: Settings, worker: Worker, server: RunServer | None) -> None:
        self._settings = settings
        self._worker = worker
        self._server = server
        self.schema = worker.schema_name(settings.schema_prefix.value)
        self._engine: Engine | None = None
        self._url: URL | None = None
        self._error: DatabaseSetupError | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._metadata: MetaData | None = None
        self._cleaner: TableCleaner | None = None
        self._leak_detector: LeakDetector | None = None
        self._ddl: str | None = None
        self._engines_by_isolation: dict[str, Engine] = {}
        self._lease: Connection | None = None
        self.reaped: list[str] = []
        # False once a test may have advanced a sequence without a reset after it.
        self.pristine = True

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> Engine:
        """The engine whose every connection has the worker schema as its search_path."""
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
        """Create the schema and tables (once); raise the kept error if that failed before."""
        if self._error is not None:
            raise self._error
        if self._engine is not None:
            return
        creating_tables = False
        try:
            server_url = self._settings.url.value
            if server_url is None:
                assert self._server is not None
                server_url = self._server.url()
            url = worker_url(server_url, self.schema, self._worker.application_name)
            engine = create_engine(url)
            _discard_connections_the_server_closed(engine)
            spec = self._settings.metadata.value
            self._metadata = load_metadata(spec) if spec else None
            self.reaped = reap_abandoned(engine)
            self._lease = take_lease(engine, self.schema)
            with engine.begin() as connection:
                create_schema(connection, self.schema, self._mark(OWNED))
                creating_tables = True
                if self._metadata is not None:
                    self._metadata.create_all(connection)
        except (UowError, SQLAlchemyError, ValueError, OSError) as error:
            if self._lease is not None:
                release_lease(self._lease)
                self._lease = None
            what_to_do = remedy(error, self._settings, creating_tables)
            self._error = DatabaseSetupError(
                f"pytest-uow could not create worker schema {self.schema} on {self.where}: "
                f"{one_line(error)}{'; ' + what_to_do if what_to_do else ''}"
            )
            raise self._error from error
        self._engine, self._url = engine, url
        self._export_environment()

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
        """The worker's backends terminated for holding locks since the last call."""
        if self._cleaner is None:
            return []
        ended, self._cleaner.ended = self._cleaner.ended, []
        return ended

    def _mark(self, template: str) -> str:
        return template.format(run=self._worker.run_id, worker=self._worker.name)

    @property
    def cleaner(self) -> TableCleaner:
        """Empties the tables a test committed to (the truncate strategy)."""
        if self._cleaner is None:
            self._cleaner = TableCleaner(self.engine, self.schema, self._worker.application_name)
        return self._cleaner

    @property
    def leak_detector(self) -> LeakDetector:
        """Finds the rows a test left behind (``--uow-check-leaks``)."""
        if self._leak_detector is None:
            self._leak_detector = LeakDetector(self.engine, self.schema)
        return self._leak_detector

    def rebuild(self) -> None:
        """Drop the schema and build it again from DDL compiled once (the recreate strategy),
        ownership mark included, so that the reaper still knows it as ours."""
        if self._ddl is None:
            dialect = self.engine.dialect
            tables = compile_ddl(self._metadata, dialect) if self._metadata else ""
            self._ddl = f"{comment_sql(dialect, self.schema, self._mark(OWNED))};\n{tables}"
        self.cleaner.rebuild_schema(self._ddl)

    def engine_like(self, original_bind: object) -> Engine:
        """The worker engine, at the isolation level the application's own engine asked for."""
        level = _requested_isolation_level(original_bind)
        if level is None:
            return self.engine
        if level not in self._engines_by_isolation:
            self._engines_by_isolation[level] = self.engine.execution_options(isolation_level=level)
        return self._engines_by_isolation[level]

    def _export_environment(self) -> None:
        """Make libpq connections the application opens on its own land in the schema too."""
        search_path = f"-c search_path={self.schema}"
        previous_options = os.environ.get("PGOPTIONS")
        exported = {
            "PGOPTIONS": f"{previous_options} {search_path}" if previous_options else search_path,
            "PGAPPNAME": self._worker.application_name,
        }
        for name, value in exported.items():
            self._saved_environment[name] = os.environ.get(name)
            os.environ[name] = value

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()

    def close(self) -> str | None:
        """Drop the schema (unless keep is on); return a warning instead of raising.

        After the server was lost there is nothing to drop; if it comes back, the next run
        reaps the schema.
        """
        if self._engine is None:
            return None
        lost = self.lost
        engine, self._engine = self._engine, None
        self._restore_environment()
        if self._cleaner is not None:
            self._cleaner.close()
            self._cleaner = None
        if self._leak_detector is not None:
            self._leak_detector.close()
            self._leak_detector = None
        engine.dispose()
        try:
            if lost:
                return None
            if self._settings.keep.value:
                mark_kept(engine, self.schema, self._mark(KEPT))
                return None
            ended = drop_schema(engine, self.schema, self._worker.application_name)
        except (SQLAlchemyError, UowError) as error:
            return f"pytest-uow could not drop worker schema {self.schema}: {one_line(error)}"
        finally:
            if self._lease is not None:
                release_lease(self._lease)
                self._lease = None
            engine.dispose()
        if ended:
            return (
                f"pytest-uow terminated {len(ended)} connection(s) of this worker that still "
                f"held locks on worker schema {self.schema} at the end of the run, so that it "
                f"could be dropped: {describe_backends(ended)}"
            )
        return None
