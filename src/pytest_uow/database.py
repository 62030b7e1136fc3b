"""The worker's isolated database: its schema on the run's server, and the engine that uses it.

Prepared once per worker, when the worker first needs it. An error while preparing it is kept
and handed to every test that needs the database as the same one line, instead of a traceback
per test.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError

from pytest_uow.config import Settings, load_metadata
from pytest_uow.errors import DatabaseSetupError, UowError
from pytest_uow.schema import create_schema, drop_schema, worker_url
from pytest_uow.server import RunServer
from pytest_uow.workers import Worker


def _one_line(error: BaseException) -> str:
    if isinstance(error, UowError):
        return str(error)
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {' '.join(lines[:2])}" if lines else type(cause).__name__


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
        where = "the throwaway server"
        try:
            server_url = self._settings.url.value
            if server_url is None:
                assert self._server is not None
                server_url = self._server.url()
            else:
                where = server_url.render_as_string(hide_password=True)
            url = worker_url(server_url, self.schema, self._worker.application_name)
            engine = create_engine(url)
            spec = self._settings.metadata.value
            create_schema(engine, self.schema, load_metadata(spec) if spec else None)
        except (UowError, SQLAlchemyError, ValueError, OSError) as error:
            self._error = DatabaseSetupError(
                f"pytest-uow could not create worker schema {self.schema} on {where}: "
                f"{_one_line(error)}"
            )
            raise self._error from error
        self._engine, self._url = engine, url
        self._export_environment()

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
        engine.dispose()
        try:
            if not self._settings.keep.value:
                drop_schema(engine, self.schema)
        except SQLAlchemyError as error:
            return f"pytest-uow could not drop worker schema {self.schema}: {_one_line(error)}"
        finally:
            engine.dispose()
        return None
