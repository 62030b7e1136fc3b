"""``uow_metadata``: the tables of the application's ``MetaData``, ``create_all`` once and
compiled DDL after that."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import MetaData, create_mock_engine
from sqlalchemy.engine import URL, Connection, Dialect

from pytest_uow.loading import load_object


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
