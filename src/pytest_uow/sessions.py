"""Re-binding the application's own module-level sessionmakers for one test.

A Cosmic Python ``SqlAlchemyUnitOfWork(session_factory=DEFAULT_SESSION_FACTORY)`` captured its
factory as a default argument when its module was imported; replacing the module attribute would
change nothing. So the factory object itself is re-configured in place, through SQLAlchemy's
public ``configure()``, and given back its own settings after the test.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, scoped_session, sessionmaker

from pytest_uow.strategies import Binding

AnySessionmaker = sessionmaker[Any] | scoped_session[Any]

# What a Session uses when its sessionmaker does not say: restored when we added the key.
_SESSION_DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(Session.__init__).parameters.items()
    if name in {"bind", "join_transaction_mode"}
}


def _factory(maker: AnySessionmaker) -> sessionmaker[Any]:
    return maker.session_factory if isinstance(maker, scoped_session) else maker


def _forget_sessions(maker: AnySessionmaker) -> None:
    """A scoped_session keeps its session between tests; drop it so the next one is fresh."""
    if isinstance(maker, scoped_session):
        maker.remove()


@contextmanager
def rebound(makers: Sequence[AnySessionmaker], binding: Binding) -> Iterator[None]:
    """Point every maker at the test's binding for the duration of the block."""
    originals: list[tuple[AnySessionmaker, dict[str, Any]]] = []
    try:
        for maker in makers:
            factory = _factory(maker)
            overrides = {"bind": binding.app_bind(factory.kw.get("bind"))}
            overrides.update(binding.session_options)
            originals.append(
                (maker, {key: factory.kw.get(key, _SESSION_DEFAULTS.get(key)) for key in overrides})
            )
            _forget_sessions(maker)
            factory.configure(**overrides)
        yield
    finally:
        for maker, original in reversed(originals):
            _forget_sessions(maker)
            _factory(maker).configure(**original)
