"""Adapters for SQLAlchemy's async factories: ``async_sessionmaker`` and
``async_scoped_session``.

The factory is re-configured in place, like a sync one, but without a bind: its sessions' sync
half is ``TestSession``, which finds the test's bind when it first needs one, on the event loop
running it (``loops.py``). A FastAPI dependency that opens sessions from a module-level
``async_sessionmaker`` needs no change and no dependency override.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import async_scoped_session
from sqlalchemy.orm import Session

from pytest_uow.aio.test_side import TestSession
from pytest_uow.binding import Binding
from pytest_uow.sessions.base import SESSION_DEFAULTS, Restore, made_by, watch_sessions

_DEFAULTS: dict[str, Any] = {**SESSION_DEFAULTS, "sync_session_class": Session}


def _driver_of(bind: object) -> str | None:
    """The async driver of the application's own engine (``asyncpg``, ``psycopg``)."""
    dialect = getattr(bind, "dialect", None)
    return getattr(dialect, "driver", None) if getattr(dialect, "is_async", False) else None


def session_class_for(original_bind: object) -> type[TestSession]:
    """``TestSession`` remembering the application's own engine (its isolation level is kept
    under real commits). One class per factory, made once: a new Session class per test would
    cost SQLAlchemy's event set-up every time."""
    return type("AppTestSession", (TestSession,), {"original_bind": original_bind})


def reconfigure_async(
    factory: Any, session_class: type[TestSession], binding: Binding, spec: str
) -> Restore:
    overrides: dict[str, Any] = {
        "bind": None,
        "sync_session_class": session_class,
        "info": made_by(spec, factory.kw.get("info")),
    }
    overrides.update(binding.session_options)
    original = {key: factory.kw.get(key, _DEFAULTS.get(key)) for key in overrides}
    factory.configure(**overrides)
    return lambda: factory.configure(**original)


class AsyncSessionmakerAdapter:
    """A module-level ``async_sessionmaker``, as a FastAPI app's dependency uses it."""

    def __init__(self, spec: str, maker: Any) -> None:
        self.spec = spec
        self._maker = maker
        self._session_class = session_class_for(maker.kw.get("bind"))
        self.driver = _driver_of(maker.kw.get("bind"))
        watch_sessions()

    def rebind(self, binding: Binding) -> Restore:
        return reconfigure_async(self._maker, self._session_class, binding, self.spec)


class AsyncScopedSessionAdapter:
    """An ``async_scoped_session``: its factory is re-bound, and the sessions it keeps are
    forgotten before and after (closing them would need their event loop; the test's
    connection is released by the plugin)."""

    def __init__(self, spec: str, registry: async_scoped_session[Any]) -> None:
        self.spec = spec
        self._registry = registry
        self._session_class = session_class_for(registry.session_factory.kw.get("bind"))
        self.driver = _driver_of(registry.session_factory.kw.get("bind"))
        watch_sessions()

    def rebind(self, binding: Binding) -> Restore:
        self._registry.registry.clear()
        restore_factory = reconfigure_async(
            self._registry.session_factory, self._session_class, binding, self.spec
        )

        def restore() -> None:
            self._registry.registry.clear()
            restore_factory()

        return restore
