"""The schema-source seam: what builds a worker's tables and their baseline rows, and what
identifies that build.

Loaded once per process, when the settings are resolved. Today the source is the application's
``MetaData`` (``uow_metadata``), optionally followed by a seed (``uow_seed``); a migration tool is
another implementation of ``SchemaSource``. The rows a build leaves are the baseline that every
reset returns to.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import MetaData, create_mock_engine
from sqlalchemy.engine import URL, Connection, Dialect

from pytest_uow.diagnosis import cause_line
from pytest_uow.errors import SeedError
from pytest_uow.loading import load_object


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


class MetaDataSource:
    """The application's ``MetaData``: ``create_all`` once, compiled DDL after that."""

    def __init__(self, metadata: MetaData, description: str) -> None:
        self.metadata = metadata
        self.description = description
        self._ddl: dict[str, str] = {}

    def _schemas_sql(self, dialect: Dialect) -> list[str]:
        """The schemas the tables name (database mode serves them): ``create_all`` creates
        none."""
        schemas = sorted({table.schema for table in self.metadata.tables.values() if table.schema})
        quote = dialect.identifier_preparer.quote_schema
        return [f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}" for schema in schemas]

    def build(self, connection: Connection) -> None:
        for statement in self._schemas_sql(connection.dialect):
            connection.exec_driver_sql(statement)
        self.metadata.create_all(connection)

    def ddl(self, dialect: Dialect) -> str:
        """Everything ``build`` would send (schemas, types, tables, indexes), compiled once, so
        that a rebuild is one round trip instead of ``create_all`` with an existence check per
        table."""
        key = f"{dialect.name}+{dialect.driver}"
        if key not in self._ddl:
            statements: list[str] = self._schemas_sql(dialect)

            def collect(statement: Any, *args: Any, **kwargs: Any) -> None:
                statements.append(str(statement.compile(dialect=dialect)).strip())

            mock = create_mock_engine(URL.create(key), collect)
            self.metadata.create_all(mock, checkfirst=False)
            self._ddl[key] = "".join(f"{statement};\n" for statement in statements)
        return self._ddl[key]

    def fill(self, connection: Connection) -> None:
        return None

    def identity(self, dialect: Dialect) -> str:
        return hashlib.sha256(self.ddl(dialect).encode()).hexdigest()

    def tables_naming_a_schema(self) -> list[str]:
        return sorted(t.fullname for t in self.metadata.tables.values() if t.schema is not None)

    def discard_cache(self) -> None:
        return None

    def notes(self) -> list[str]:
        return []


class SeededSource:
    """Another source's tables, then the rows of ``uow_seed``: reference data every test
    starts with."""

    def __init__(
        self, tables: SchemaSource, seed: Callable[[Connection], object], spec: str, where: str
    ) -> None:
        self._tables = tables
        self._seed = seed
        self._spec = spec
        self.description = f"{tables.description} seeded by uow_seed ({spec}, {where})"

    def build(self, connection: Connection) -> None:
        self._tables.build(connection)
        self._run_seed(connection)

    def ddl(self, dialect: Dialect) -> str | None:
        return self._tables.ddl(dialect)

    def fill(self, connection: Connection) -> None:
        self._tables.fill(connection)
        self._run_seed(connection)

    def _run_seed(self, connection: Connection) -> None:
        try:
            self._seed(connection)
        except Exception as error:
            raise SeedError(f"uow_seed {self._spec} raised {cause_line(error)}") from error

    def identity(self, dialect: Dialect) -> str:
        """The tables' identity and the seed's code (its whole module: it may call helpers)."""
        module = inspect.getmodule(self._seed)
        try:
            code = inspect.getsource(module) if module is not None else self._spec
        except (OSError, TypeError):
            code = self._spec
        combined = f"{self._tables.identity(dialect)}\n{self._spec}\n{code}"
        return hashlib.sha256(combined.encode()).hexdigest()

    def tables_naming_a_schema(self) -> list[str]:
        return self._tables.tables_naming_a_schema()

    def discard_cache(self) -> None:
        self._tables.discard_cache()

    def notes(self) -> list[str]:
        return self._tables.notes()


def load_seed(spec: str) -> Callable[[Connection], object]:
    """The callable ``uow_seed`` names; ValueError says what is wrong with it."""
    target = load_object(spec)
    if not callable(target):
        raise ValueError(f"is a {type(target).__name__}; expected a callable taking a Connection")
    return target


def load_metadata(spec: str) -> MetaData:
    """The ``MetaData`` named by ``spec``: a MetaData, a declarative base, or a callable
    returning one (called once)."""
    target = load_object(spec)
    if callable(target) and not isinstance(target, MetaData) and not _has_metadata(target):
        try:
            target = target()
        except Exception as error:
            raise ValueError(f"calling it failed: {type(error).__name__}: {error}") from None
    metadatas = getattr(target, "metadatas", None)  # a Flask-SQLAlchemy extension's, by bind
    if isinstance(metadatas, Mapping) and len(metadatas) > 1:
        return _merged(metadatas)
    if _has_metadata(target):
        target = target.metadata  # type: ignore[attr-defined]
    if not isinstance(target, MetaData):
        raise ValueError(
            f"is a {type(target).__name__}; expected a MetaData, a declarative base "
            "(anything with .metadata) or a callable returning one"
        )
    return target


def _merged(metadatas: Mapping[object, object]) -> MetaData:
    """The tables of every bind's MetaData in one: every bind is re-bound to the worker's
    namespace, so all their tables are built there."""
    merged = MetaData()
    binds: dict[str, object] = {}
    for key, metadata in metadatas.items():
        if not isinstance(metadata, MetaData):
            raise ValueError(f"its metadatas[{key!r}] is a {type(metadata).__name__}")
        for table in metadata.tables.values():
            if table.key in merged.tables:
                raise ValueError(
                    f"binds {binds[table.key]!r} and {key!r} both have a table {table.key}; "
                    "pytest-uow builds every bind's tables in the worker's one namespace"
                )
            binds[table.key] = key
            table.to_metadata(merged)
    return merged


def _has_metadata(target: object) -> bool:
    return isinstance(getattr(target, "metadata", None), MetaData)
