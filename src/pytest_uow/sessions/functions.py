"""Adapter for a function that returns sessions: ``get_session()``, in an application that builds
its engine on every call, or hands sessions to FastAPI's ``Depends``.

There is no factory object to re-configure. For each test the function is replaced, in its own
module and in every loaded module that imported it by name, by a stand-in that calls it and
re-binds the session it returns before the session first connects (``Session.bind``, and the
join mode the strategy asks for). The application's own code still runs: its session class
(SQLModel's, say), its options, and whatever a generator does after its ``yield``. The originals
are put back after the test. A reference the scan cannot see, such as ``Depends(get_session)``
in a route built at import, keeps calling the original: FastAPI's ``app.dependency_overrides``
is the route for that (see the guide, docs/guides/session-functions.md).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Generator
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from pytest_uow.binding import Binding
from pytest_uow.errors import UowError
from pytest_uow.sessions.base import MADE_BY, Restore, watch_sessions

_Reference = tuple[dict[str, Any], str]  # a module's namespace, and the name it is bound to


def check_session_function(spec: str, function: object) -> None:
    """Refuse, in one line, a callable this adapter cannot serve."""
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise ValueError(
            f"{spec} is an async function; name the async_sessionmaker it opens sessions from, "
            "or override it with app.dependency_overrides and uow_async_session_factory"
        )
    if not inspect.isfunction(function):
        raise ValueError(f"{spec} is a {type(function).__name__}, not a function")


class SessionFunctionAdapter:
    """A module-level function (or generator function) returning sessions."""

    def __init__(self, spec: str, function: Callable[..., Any]) -> None:
        self.spec = spec
        self._function = function
        watch_sessions()
        self._references: list[_Reference] = []
        self._modules_seen = 0

    def _find_references(self) -> list[_Reference]:
        """Every module attribute bound to the function; scanned again only when modules
        were imported since (a scan of every module costs milliseconds)."""
        if len(sys.modules) != self._modules_seen:
            self._modules_seen = len(sys.modules)
            self._references = [
                (namespace, name)
                for module in list(sys.modules.values())
                if isinstance(module, ModuleType)
                for namespace in (getattr(module, "__dict__", None),)
                if isinstance(namespace, dict)
                for name, value in list(namespace.items())
                if value is self._function
            ]
        return self._references

    def rebind(self, binding: Binding) -> Restore:
        stand_in = _stand_in(self.spec, self._function, binding)
        references = self._find_references()
        for namespace, name in references:
            namespace[name] = stand_in

        def restore() -> None:
            for namespace, name in references:
                if namespace.get(name) is stand_in:
                    namespace[name] = self._function

        return restore


def _rebound(spec: str, session: object, binding: Binding) -> Session:
    """The application's session, pointed at the test before it first connects."""
    if not isinstance(session, Session):
        raise UowError(
            f"{spec} returned a {type(session).__name__}, not a Session; name the function "
            "that returns sessions"
        )
    if session.in_transaction():
        raise UowError(
            f"{spec} returned a session that already began a transaction on the application's "
            "own engine; pytest-uow re-binds sessions before they connect"
        )
    original = session.bind
    session.bind = binding.app_bind(original)
    session.info[MADE_BY] = spec
    for name, value in binding.session_options.items():
        setattr(session, name, value)
    binding.track(session)
    return session


def _stand_in(spec: str, function: Callable[..., Any], binding: Binding) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generate(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            """The original generator, its first value re-bound; the rest delegated as
            ``yield from`` would (FastAPI throws the endpoint's error into it)."""
            generator = function(*args, **kwargs)
            value: Any = _rebound(spec, next(generator), binding)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    generator.close()
                    raise
                except BaseException as error:
                    try:
                        value = generator.throw(error)
                    except StopIteration as stop:
                        return stop.value
                else:
                    try:
                        value = generator.send(sent)
                    except StopIteration as stop:
                        return stop.value

        return generate

    @functools.wraps(function)
    def make(*args: Any, **kwargs: Any) -> Session:
        return _rebound(spec, function(*args, **kwargs), binding)

    return make
