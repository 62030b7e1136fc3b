"""Adapters for SQLAlchemy's synchronous factories: ``sessionmaker`` and ``scoped_session``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import scoped_session, sessionmaker

from pytest_uow.binding import Binding, close_quietly
from pytest_uow.sessions.base import SESSION_DEFAULTS, Restore, made_by, watch_sessions


def reconfigure(factory: sessionmaker[Any], binding: Binding, spec: str) -> Restore:
    """``factory.configure(...)`` for the test, its sessions marked as made by ``spec``; the
    returned callable undoes it."""
    overrides: dict[str, Any] = {
        "bind": binding.app_bind(factory.kw.get("bind")),
        "info": made_by(spec, factory.kw.get("info")),
    }
    overrides.update(binding.session_options)
    original = {key: factory.kw.get(key, SESSION_DEFAULTS.get(key)) for key in overrides}
    factory.configure(**overrides)
    return lambda: factory.configure(**original)


class SessionmakerAdapter:
    """A module-level ``sessionmaker``, the Cosmic Python ``DEFAULT_SESSION_FACTORY``."""

    def __init__(self, spec: str, maker: sessionmaker[Any]) -> None:
        self.spec = spec
        self._maker = maker
        watch_sessions()

    def rebind(self, binding: Binding) -> Restore:
        return reconfigure(self._maker, binding, self.spec)


class ScopedSessionAdapter:
    """A ``scoped_session``: its factory is re-bound, and the session it keeps between tests
    is dropped before and after, so that every test gets a fresh one."""

    def __init__(self, spec: str, registry: scoped_session[Any]) -> None:
        self.spec = spec
        self._registry = registry
        watch_sessions()

    def rebind(self, binding: Binding) -> Restore:
        self._registry.remove()
        restore_factory = reconfigure(self._registry.session_factory, binding, self.spec)

        def restore() -> None:
            close_quietly(self._registry.remove, self._registry.registry.clear)
            restore_factory()

        return restore
