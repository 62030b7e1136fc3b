"""The worker's isolated database: its schema on the run's server, and the engine that uses it.

Prepared once per worker, when the worker first needs it. An error while preparing it is kept
and handed to every test that needs the database as the same one line, instead of a traceback
per test.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from pytest_uow.cleaning import TableCleaner
from pytest_uow.config import Settings, load_metadata
from pytest_uow.errors import DatabaseSetupError, UowError
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


def one_line(error: BaseException) -> str:
    if isinstance(error, UowError):
        return str(error)
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {' '.join(lines[:2])}" if lines else type(cause).__name__


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

    def open(self) -> None:
        """Create the schema and tables (once); raise the kept error if that failed before."""
        if self._error is not None:
            raise self._error
        if self._engine is not None:
            return
        where, hint = "the throwaway server", ""
        try:
            server_url = self._settings.url.value
            if server_url is None:
                assert self._server is not None
                server_url = self._server.url()
            else:
                where = server_url.render_as_string(hide_password=True)
                hint = (
                    f"; check that this server is running and that uow_database_url "
                    f"({self._settings.url.source}) names it, its user and its database"
                )
            url = worker_url(server_url, self.schema, self._worker.application_name)
            engine = create_engine(url)
            spec = self._settings.metadata.value
            self._metadata = load_metadata(spec) if spec else None
            self.reaped = reap_abandoned(engine)
            self._lease = take_lease(engine, self.schema)
            create_schema(engine, self.schema, self._metadata, self._mark(OWNED))
        except (UowError, SQLAlchemyError, ValueError, OSError) as error:
            never_connected = isinstance(error, OperationalError) and self._lease is None
            if self._lease is not None:
                release_lease(self._lease)
                self._lease = None
            self._error = DatabaseSetupError(
                f"pytest-uow could not create worker schema {self.schema} on {where}: "
                f"{one_line(error)}{hint if never_connected else ''}"
            )
            raise self._error from error
        self._engine, self._url = engine, url
        self._export_environment()

    def _mark(self, template: str) -> str:
        return template.format(run=self._worker.run_id, worker=self._worker.name)

    @property
    def cleaner(self) -> TableCleaner:
        """Empties the tables a test committed to (the truncate strategy)."""
        if self._cleaner is None:
            self._cleaner = TableCleaner(self.engine, self.schema)
        return self._cleaner

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
        """Drop the schema (unless keep is on); return a warning instead of raising."""
        if self._engine is None:
            return None
        engine, self._engine = self._engine, None
        self._restore_environment()
        if self._cleaner is not None:
            self._cleaner.close()
            self._cleaner = None
        engine.dispose()
        try:
            if self._settings.keep.value:
                mark_kept(engine, self.schema, self._mark(KEPT))
            else:
                drop_schema(engine, self.schema)
        except SQLAlchemyError as error:
            return f"pytest-uow could not drop worker schema {self.schema}: {one_line(error)}"
        finally:
            if self._lease is not None:
                release_lease(self._lease)
                self._lease = None
            engine.dispose()
        return None
