"""How each test's writes are undone: a small protocol, its implementations, and a registry.

A strategy opens the test's isolation (``isolate``) and says what the test's sessions bind to;
leaving the context undoes the test's writes. The command line's choices and the marker's valid
values come from ``STRATEGIES``, so a strategy exists for users exactly when it is registered.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from pytest_uow.database import WorkerDatabase


@dataclass(frozen=True)
class Binding:
    """What one test works with: its connection, and what its sessions bind to."""

    connection: Connection
    bind: Connection | Engine
    session_options: Mapping[str, Any] = field(default_factory=dict)
    # What an application sessionmaker is re-bound to, given what it was bound to before.
    bind_for: Callable[[object], Connection | Engine] | None = None
    # Sessions the plugin handed out; closed before the reset so they hold no locks.
    sessions: weakref.WeakSet[Session] = field(default_factory=weakref.WeakSet)

    def app_bind(self, original_bind: object) -> Connection | Engine:
        return self.bind_for(original_bind) if self.bind_for else self.bind

    def close_sessions(self) -> None:
        for session in list(self.sessions):
            session.close()


class ResetStrategy(Protocol):
    """Isolates one test; its writes are gone when the context exits."""

    name: ClassVar[str]
    summary: ClassVar[str]

    def isolate(self, database: WorkerDatabase) -> AbstractContextManager[Binding]: ...


class RollbackStrategy:
    """One connection and one outer transaction per test, rolled back at the end.

    Sessions join the transaction with ``join_transaction_mode="create_savepoint"``
    (SQLAlchemy's "Joining a Session into an External Transaction" recipe): the application's
    ``commit()`` releases a savepoint and its ``rollback()`` returns to one, so it behaves as in
    production while nothing it writes survives the test.
    """

    name: ClassVar[str] = "rollback"
    summary: ClassVar[str] = "one transaction per test, rolled back; fastest; one connection"

    @contextmanager
    def isolate(self, database: WorkerDatabase) -> Iterator[Binding]:
        database.pristine = False  # rolled-back inserts still advance sequences
        with database.engine.connect() as connection:
            transaction = connection.begin()
            try:
                yield Binding(connection, connection, {"join_transaction_mode": "create_savepoint"})
            finally:
                if transaction.is_active:
                    transaction.rollback()


@contextmanager
def _real_commits(database: WorkerDatabase) -> Iterator[Binding]:
    """Sessions on the worker engine: commits are visible to every other connection.

    Identity columns start at their first value: after tests of other strategies, which leave
    no rows but may have advanced sequences, the sequences are restarted first.
    """
    if not database.pristine:
        database.cleaner.clean()
        database.pristine = True
    with database.engine.connect() as connection:
        binding = Binding(connection, database.engine, bind_for=database.engine_like)
        try:
            yield binding
        finally:
            binding.close_sessions()


class _RealCommitsStrategy:
    """Sessions on the worker engine during the test; a subclass says how to reset after."""

    name: ClassVar[str]
    summary: ClassVar[str]

    @contextmanager
    def isolate(self, database: WorkerDatabase) -> Iterator[Binding]:
        with _real_commits(database) as binding:
            yield binding
        self.reset(database)

    def reset(self, database: WorkerDatabase) -> None:
        raise NotImplementedError


class TruncateStrategy(_RealCommitsStrategy):
    """Real commits; afterwards the tables that hold rows are emptied (see ``cleaning.py``)."""

    name: ClassVar[str] = "truncate"
    summary: ClassVar[str] = "real commits, seen by other connections; dirty tables emptied"

    def reset(self, database: WorkerDatabase) -> None:
        database.cleaner.clean()


class RecreateStrategy(_RealCommitsStrategy):
    """Real commits; afterwards the worker schema is dropped and built again."""

    name: ClassVar[str] = "recreate"
    summary: ClassVar[str] = "real commits; schema dropped and rebuilt, for tests that alter it"

    def reset(self, database: WorkerDatabase) -> None:
        database.rebuild()


STRATEGIES: dict[str, ResetStrategy] = {
    strategy.name: strategy
    for strategy in (RollbackStrategy(), TruncateStrategy(), RecreateStrategy())
}


MARKER = "uow"
MARKER_HELP = (
    f"{MARKER}(strategy='rollback'): how this test's (class's, module's) writes are undone: "
    + "; ".join(f"{name}: {strategy.summary}" for name, strategy in STRATEGIES.items())
)


def strategy_from_marker(args: tuple[object, ...], kwargs: Mapping[str, object]) -> str | None:
    """The strategy a ``@pytest.mark.uow(...)`` asks for; ValueError says what is wrong."""
    unknown = sorted(set(kwargs) - {"strategy"})
    if args or unknown:
        given = ", ".join([*map(repr, args), *unknown])
        raise ValueError(f"unexpected {given}; use @pytest.mark.uow(strategy=...)")
    strategy = kwargs.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    return None if strategy is None else str(strategy)
