"""What one test works with: the meeting point of the strategies, which make it, and the
session adapters and fixtures, which point sessions at it."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


class AsyncSide(Protocol):
    """The test's async side, where async sessions are in use (``aio/test_side.py``)."""

    def bind(self, original_bind: object = None, driver: str | None = None) -> Connection | Engine:
        """What an async session's sync half binds to, on the running event loop (through
        ``driver``, where an application engine of that async driver joins the test)."""

    def track(self, session: Any) -> None:
        """A session the plugin handed out: closed after the test, on its loop."""

    @property
    def drivers_used(self) -> list[str]:
        """The async drivers whose connection the test's async sessions used so far."""


# invalid_savepoint_specification, in_failed_sql_transaction
_GONE_WITH_AN_OUTER_SAVEPOINT = frozenset({"3B001", "25P02"})


def close_quietly(
    close: Callable[[], None], after_failure: Callable[[], None] = lambda: None
) -> None:
    """Close a session after its test (``close`` it, or remove a ``scoped_session``'s). Two
    sessions that joined the test's transaction each hold a savepoint, the later one inside
    the earlier; closing the earlier first (the plugin's ``uow_session`` at its fixture's
    teardown, say) takes the later one's savepoint with it, and then closing the later one
    fails. That is no error: the test's whole transaction is rolled back (or, committing for
    real, its connection given back) right after. SQLAlchemy has ended the session's
    transaction by then; ``after_failure`` finishes what ``close`` did not (a registry
    cleared)."""
    try:
        close()
    except DBAPIError as error:
        orig = getattr(error, "orig", None)
        code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
        if code not in _GONE_WITH_AN_OUTER_SAVEPOINT:
            raise
        after_failure()


@dataclass(frozen=True)
class Binding:
    """One test's connection, and what its sessions bind to."""

    connection: Connection
    bind: Connection | Engine
    session_options: Mapping[str, Any] = field(default_factory=dict)
    # What an application sessionmaker is re-bound to, given what it was bound to before.
    bind_for: Callable[[object], Connection | Engine] | None = None
    # Sessions the plugin handed out; closed before the reset so they hold no locks.
    sessions: weakref.WeakSet[Session] = field(default_factory=weakref.WeakSet)
    # The test's async side, where async sessions are in use.
    aio: AsyncSide | None = None
    # Uses of the database the isolation could not serve, refused while the test ran (inside
    # a request, say, where the application may turn the error into a response): the test
    # fails with the first at its end.
    refusals: list[str] = field(default_factory=list)

    @property
    def commits_are_real(self) -> bool:
        """Whether sessions commit for real (on an engine) rather than into the test's
        transaction."""
        return isinstance(self.bind, Engine)

    def app_bind(self, original_bind: object) -> Connection | Engine:
        return self.bind_for(original_bind) if self.bind_for else self.bind

    def track(self, session: Session) -> None:
        self.sessions.add(session)

    def refuse(self, message: str) -> None:
        self.refusals.append(message)

    def close_sessions(self) -> None:
        for session in list(self.sessions):
            close_quietly(session.close)
