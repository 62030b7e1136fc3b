"""The schema-source seam: what builds a worker's tables and their baseline rows, and what
identifies that build.

Loaded once per process, when the settings are resolved: the application's ``MetaData``
(``uow_metadata``, ``metadata.py``) or its Alembic migrations (``uow_alembic``, in
``migrations/``), either of them followed by a seed (``uow_seed``, ``seed.py``). The rows a build
leaves are the baseline that every reset returns to.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import SQLAlchemyError

from pytest_uow.diagnosis import is_connection_failure, one_line
from pytest_uow.errors import UowError


class SchemaSource(Protocol):
    """Builds the tables of a worker namespace."""

    @property
    def description(self) -> str:
        """How messages name it, e.g. ``uow_metadata (app:metadata, ini ...)``."""

    def build(self, connection: Connection) -> None:
        """Create the tables in the namespace ``connection`` uses, and their baseline rows, in
        its transaction."""

    def ddl(self, dialect: Dialect) -> str | None:
        """The same tables as one SQL script, replayed in one round trip by ``recreate``; None
        where there is none (then ``build`` runs again)."""

    def fill(self, connection: Connection) -> None:
        """Insert the baseline rows into tables ``ddl`` created (after a replay)."""

    def identity(self, dialect: Dialect) -> str:
        """A hash of everything that determines what ``build`` creates."""

    def tables_naming_a_schema(self) -> list[str]:
        """Tables that name their own schema (``Table(schema=...)``), by full name."""

    def discard_cache(self) -> None:
        """``uow_rebuild``: forget what earlier runs kept, so this run builds afresh."""

    def notes(self) -> list[str]:
        """What the run's summary should say about how this process's builds went."""


class NoTables:
    """No ``uow_metadata``: worker namespaces start empty."""

    description = "no tables (uow_metadata unset)"

    def build(self, connection: Connection) -> None:
        return None

    def ddl(self, dialect: Dialect) -> str:
        return ""

    def fill(self, connection: Connection) -> None:
        return None

    def identity(self, dialect: Dialect) -> str:
        return hashlib.sha256(b"").hexdigest()

    def tables_naming_a_schema(self) -> list[str]:
        return []

    def discard_cache(self) -> None:
        return None

    def notes(self) -> list[str]:
        return []


class BuildFailed(UowError):
    """The application's tables could not be created: their DDL failed on the server (as
    opposed to the server failing, or the application's own code, which a ``SourceError``
    names)."""

    def __init__(self, error: SQLAlchemyError) -> None:
        super().__init__(one_line(error))
        self.error = error


def build(source: SchemaSource, connection: Connection) -> None:
    """``source.build``, where a statement the server refused is told apart from a server that
    went away: the remedy differs (fix the model, or check the server)."""
    try:
        source.build(connection)
    except SQLAlchemyError as error:
        if is_connection_failure(error):
            raise
        raise BuildFailed(error) from error
