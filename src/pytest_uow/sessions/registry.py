"""Which adapter serves an object named in ``uow_sessionmakers``: the one list of kinds."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import async_scoped_session
from sqlalchemy.orm import scoped_session, sessionmaker

from pytest_uow.binding import Binding
from pytest_uow.compat import is_async_sessionmaker
from pytest_uow.sessions.async_ import AsyncScopedSessionAdapter, AsyncSessionmakerAdapter
from pytest_uow.sessions.base import SessionAdapter
from pytest_uow.sessions.engines import EngineAdapter, is_engine
from pytest_uow.sessions.flask_db import FlaskSQLAlchemyAdapter, is_flask_sqlalchemy
from pytest_uow.sessions.functions import SessionFunctionAdapter, check_session_function
from pytest_uow.sessions.sync import ScopedSessionAdapter, SessionmakerAdapter

# Checked in order: the first kind the object is wins (an async sessionmaker on SQLAlchemy 1.4
# is a sessionmaker too).
KINDS: Sequence[tuple[Callable[[object], bool], Callable[[str, Any], SessionAdapter]]] = (
    (lambda target: isinstance(target, scoped_session), ScopedSessionAdapter),
    (lambda target: isinstance(target, async_scoped_session), AsyncScopedSessionAdapter),
    (is_async_sessionmaker, AsyncSessionmakerAdapter),
    (lambda target: isinstance(target, sessionmaker), SessionmakerAdapter),
    (is_engine, EngineAdapter),
)
KIND_NAMES = (
    "a sessionmaker, scoped_session, async_sessionmaker or async_scoped_session, a "
    "Flask-SQLAlchemy extension object, an Engine or AsyncEngine, or a function returning "
    "sessions"
)
# The kinds whose sessions are async: the test's async side is opened for them.
ASYNC_KINDS = (AsyncScopedSessionAdapter, AsyncSessionmakerAdapter)


def adapter_for(spec: str, target: object) -> SessionAdapter:
    """The adapter for ``target``; ValueError names what it is and what is accepted."""
    for is_kind, adapter in KINDS:
        if is_kind(target):
            return adapter(spec, target)
    if is_flask_sqlalchemy(target):
        return FlaskSQLAlchemyAdapter(spec, target)
    if callable(target) and not isinstance(target, type):
        check_session_function(spec, target)
        return SessionFunctionAdapter(spec, target)
    raise ValueError(f"{spec} is a {type(target).__name__}; expected {KIND_NAMES}")


@contextmanager
def rebound(adapters: Sequence[SessionAdapter], binding: Binding) -> Iterator[None]:
    """Every adapter's factory points at ``binding`` for the duration of the block."""
    restores = []
    try:
        for adapter in adapters:
            restores.append(adapter.rebind(binding))
        yield
    finally:
        for restore in reversed(restores):
            restore()
