"""Adapter for a Flask-SQLAlchemy 3.x extension object (``db = SQLAlchemy()``).

``db.session`` is a ``scoped_session`` scoped to the Flask application context, and its sessions
choose their engine themselves: Flask-SQLAlchemy's ``Session.get_bind`` asks the extension for
the current application's engines by bind key, so a ``bind`` configured on the factory is never
consulted (re-binding it as for a plain ``sessionmaker`` would change nothing, silently). What
the factory does pass to every session is the extension itself, as ``db=``: for each test the
factory is re-configured, through ``sessionmaker.configure``, with a stand-in for the extension
whose ``engines`` map every bind key of the application to the test's bind. ``db.session`` and
``Model.query`` then land in the test's isolation whether the app context is the test's own or
a request's; the current context's session is removed before and after the test.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import scoped_session

from pytest_uow.binding import Binding
from pytest_uow.sessions.base import SESSION_DEFAULTS, Restore

_MODULE = "flask_sqlalchemy"


def is_flask_sqlalchemy(target: object) -> bool:
    """Whether ``target`` is a Flask-SQLAlchemy extension object (checked without importing
    Flask-SQLAlchemy: if the target is one, its module is loaded already)."""
    module = sys.modules.get(_MODULE)
    extension = getattr(module, "SQLAlchemy", None)
    return isinstance(extension, type) and isinstance(target, extension)


class _TestEngines:
    """What a Flask-SQLAlchemy session asks its extension for: the engines by bind key. Each
    of the application's bind keys maps to what the test binds to (under ``truncate`` and
    ``recreate``, the worker engine at the isolation level that bind's own engine asked for)."""

    def __init__(self, db: Any, binding: Binding) -> None:
        self._db = db
        self._binding = binding

    @property
    def engines(self) -> Mapping[str | None, Connection | Engine]:
        try:
            own: Mapping[str | None, object] = self._db.engines
        except RuntimeError:  # no application context: the default bind only
            own = {None: None}
        return {key: self._binding.app_bind(engine) for key, engine in own.items()}


class FlaskSQLAlchemyAdapter:
    """``db``: its ``db.session`` factory is re-configured for each test."""

    def __init__(self, spec: str, db: Any) -> None:
        registry = getattr(db, "session", None)
        if not (
            isinstance(registry, scoped_session) and registry.session_factory.kw.get("db") is db
        ):
            raise ValueError(
                f"{spec} is a Flask-SQLAlchemy extension whose db.session is not the one "
                "Flask-SQLAlchemy 3 makes; pytest-uow serves Flask-SQLAlchemy 3.x"
            )
        self.spec = spec
        self._db = db
        self._registry: scoped_session[Any] = registry

    def _remove_session(self) -> None:
        """The session of the application context that is current, if one is: a context a
        fixture keeps pushed from test to test would otherwise keep the last test's session.
        The sessions of request contexts are removed by Flask-SQLAlchemy when they end."""
        with contextlib.suppress(RuntimeError):  # outside an application context
            self._registry.remove()

    def rebind(self, binding: Binding) -> Restore:
        self._remove_session()
        factory = self._registry.session_factory
        overrides: dict[str, Any] = {"db": _TestEngines(self._db, binding)}
        overrides.update(binding.session_options)
        original = {key: factory.kw.get(key, SESSION_DEFAULTS.get(key)) for key in overrides}
        factory.configure(**overrides)

        def restore() -> None:
            self._remove_session()
            factory.configure(**original)

        return restore
