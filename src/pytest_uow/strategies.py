"""How each test's writes are undone: a small protocol, its implementations, and a registry.

A strategy opens the test's isolation (``isolate``) and says what the test's sessions bind to;
leaving the context undoes the test's writes. The command line's choices come from
``STRATEGIES``, so a strategy exists for users exactly when it is registered here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from pytest_uow.database import WorkerDatabase


@dataclass(frozen=True)
class Binding:
    """What one test works with: its connection, and what its sessions bind to."""

    connection: Connection
    bind: Connection | Engine
    session_options: Mapping[str, Any] = field(default_factory=dict)


class ResetStrategy(Protocol):
    """Isolates one test; its writes are gone when the context exits."""

    name: ClassVar[str]

    def isolate(self, database: WorkerDatabase) -> AbstractContextManager[Binding]: ...


class RollbackStrategy:
    """One connection and one outer transaction per test, rolled back at the end.

    Sessions join the transaction with ``join_transaction_mode="create_savepoint"``
    (SQLAlchemy's "Joining a Session into an External Transaction" recipe): the application's
    ``commit()`` releases a savepoint and its ``rollback()`` returns to one, so it behaves as in
    production while nothing it writes survives the test.
    """

    name: ClassVar[str] = "rollback"

    @contextmanager
    def isolate(self, database: WorkerDatabase) -> Iterator[Binding]:
        with database.engine.connect() as connection:
            transaction = connection.begin()
            try:
                yield Binding(connection, connection, {"join_transaction_mode": "create_savepoint"})
            finally:
                if transaction.is_active:
                    transaction.rollback()


STRATEGIES: dict[str, ResetStrategy] = {
    strategy.name: strategy for strategy in (RollbackStrategy(),)
}
