"""``uow_seed``: another source's tables, then the application's reference rows."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable

from sqlalchemy.engine import Connection, Dialect

from pytest_uow.diagnosis import cause_line
from pytest_uow.errors import SeedError
from pytest_uow.loading import load_object
from pytest_uow.sources.base import SchemaSource


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
