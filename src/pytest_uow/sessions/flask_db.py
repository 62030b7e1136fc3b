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

Code that takes ``db.engine`` (or ``db.engines[key]``) and connects by itself is outside the
session. Flask-SQLAlchemy creates those engines per application, in ``init_app``, often inside
the test (``create_app()`` in a fixture), so they are watched through SQLAlchemy's class-level
engine events, and recognised, inside the application context that uses them, as the current
application's; they are then routed like every engine of the configured database, whatever URL
they name (``routing``): into the test's transaction under ``rollback``, to the worker's
namespace under ``truncate`` and ``recreate``; a pooled connection made before is replaced.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import scoped_session

from pytest_uow.binding import Binding, close_quietly
from pytest_uow.routing import adopt, is_routed, route_connection
from pytest_uow.sessions.base import SESSION_DEFAULTS, Restore, made_by, watch_sessions

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


class _Watch:
    """The running test's Flask-SQLAlchemy extensions, as the class-level engine events see
    them (installed once, when an extension is first re-bound)."""

    def __init__(self) -> None:
        self.active: list[tuple[str, Any, Binding]] = []
        self._installed = False

    def install(self) -> None:
        if not self._installed:
            self._installed = True
            event.listen(Engine, "do_connect", self._connecting)
            event.listen(Engine, "engine_connect", self._connected)

    def _is_watched(self, dialect: Dialect) -> bool:
        """Whether ``dialect`` is that of one of the current application's engines of a
        watched extension."""
        for _, db, _ in self.active:
            try:
                engines = db.engines
            except RuntimeError:  # outside an application context, or another application's
                continue
            if any(engine.dialect is dialect for engine in engines.values()):
                return True
        return False

    def _connecting(
        self, dialect: Dialect, record: Any, cargs: list[Any], cparams: dict[str, Any]
    ) -> Any:
        """A new connection of an application engine: routed like every engine of the
        configured database (``routing``), whatever its URL names: into the test's own
        connection under rollback, to the worker namespace under real commits."""
        if self.active and not is_routed(record.info) and self._is_watched(dialect):
            adopt(dialect)
            return route_connection(dialect, record, cargs, cparams)
        return None

    def _connected(self, connection: Connection, *branch: object) -> None:
        """A connection of an application engine, maybe from its pool, made before its engine
        was routed: replaced (SQLAlchemy 1.4 passes ``branch`` too)."""
        if self.active and not is_routed(connection.info) and self._is_watched(connection.dialect):
            connection.invalidate()  # its next use connects afresh, routed


_WATCH = _Watch()


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
        watch_sessions()

    def _remove_session(self) -> None:
        """The session of the application context that is current, if one is: a context a
        fixture keeps pushed from test to test would otherwise keep the last test's session.
        The sessions of request contexts are removed by Flask-SQLAlchemy when they end."""
        with contextlib.suppress(RuntimeError):  # outside an application context
            close_quietly(self._registry.remove, self._registry.registry.clear)

    def rebind(self, binding: Binding) -> Restore:
        self._remove_session()
        factory = self._registry.session_factory
        overrides: dict[str, Any] = {
            "db": _TestEngines(self._db, binding),
            "info": made_by(self.spec, factory.kw.get("info")),
        }
        overrides.update(binding.session_options)
        original = {key: factory.kw.get(key, SESSION_DEFAULTS.get(key)) for key in overrides}
        factory.configure(**overrides)
        watched = (self.spec, self._db, binding)
        _WATCH.install()
        _WATCH.active.append(watched)

        def restore() -> None:
            _WATCH.active.remove(watched)
            self._remove_session()
            factory.configure(**original)

        return restore
