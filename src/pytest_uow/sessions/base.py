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

from sqlalchemy import event
from sqlalchemy.orm import Session

from pytest_uow.binding import Binding
from pytest_uow.current import CURRENT

Restore = Callable[[], None]

# In the ``info`` of a session a named factory made while re-bound: which one made it.
MADE_BY = "pytest-uow made by"
_REACHED: set[str] = set()  # the specs of named objects a test reached, in this process


def reached() -> set[str]:
    """The objects named in ``uow_sessionmakers`` that a test of this process reached: a
    session of theirs began a transaction while they were re-bound (an engine: connected)."""
    return set(_REACHED)


def note_reached(spec: str) -> None:
    _REACHED.add(spec)


def _began(session: Session, transaction: object, connection: object) -> None:
    spec = session.info.get(MADE_BY)
    if spec is not None:
        _REACHED.add(spec)
        CURRENT.note_reached()


def watch_sessions() -> None:
    """Note which named factory each beginning session came from: one listener on every
    ``Session`` (an async session's sync half included), a dictionary lookup each."""
    if not event.contains(Session, "after_begin", _began):
        event.listen(Session, "after_begin", _began)


def made_by(spec: str, info: dict[str, Any] | None) -> dict[str, Any]:
    """A factory's ``info``, with the mark of the named object re-bound for the test."""
    return {**(info or {}), MADE_BY: spec}


# What a Session uses when its factory does not say: restored where the plugin added the key.
SESSION_DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(Session.__init__).parameters.items()
    if name in {"bind", "join_transaction_mode", "info"}
}


class SessionAdapter(Protocol):
    """One application factory named in ``uow_sessionmakers``."""

    spec: str  # how the user named it, module:attribute

    def rebind(self, binding: Binding) -> Restore:
        """Point the factory at ``binding``; return what gives it back its own settings."""
