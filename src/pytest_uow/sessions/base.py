"""The session-adapter seam: how one kind of application session factory is pointed at a test.

A Cosmic Python ``SqlAlchemyUnitOfWork(session_factory=DEFAULT_SESSION_FACTORY)`` captured its
factory as a default argument when its module was imported; replacing the module attribute would
change nothing. So an adapter re-configures the factory object itself, in place, through its
public API, and gives it back its own settings afterwards.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.orm import Session

from pytest_uow.binding import Binding

Restore = Callable[[], None]

# What a Session uses when its factory does not say: restored where the plugin added the key.
SESSION_DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(Session.__init__).parameters.items()
    if name in {"bind", "join_transaction_mode"}
}


class SessionAdapter(Protocol):
    """One application factory named in ``uow_sessionmakers``."""

    spec: str  # how the user named it, module:attribute

    def rebind(self, binding: Binding) -> Restore:
        """Point the factory at ``binding``; return what gives it back its own settings."""
