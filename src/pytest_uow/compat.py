"""What differs between the SQLAlchemy versions pytest-uow serves (1.4, 2.0, 2.x), in one place.

The plugin's own engines are 2.0-style everywhere (``future=True`` on 1.4: ``Connection.commit``,
autobegin), so the rest of the package is written once, against that API. What cannot be made
alike is asked of this module: which version is installed and whether SQLAlchemy's
``join_transaction_mode`` exists (2.0), else the 1.4 recipe is used (``savepoints.py``).

The few private names of SQLAlchemy, Alembic and pytest that the plugin cannot do without sit
here too, each behind one function that ``tests/unit/test_compat.py`` pins on every supported
version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import sqlalchemy
from sqlalchemy.pool import NullPool

from pytest_uow.versions import version_tuple

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Dialect, Engine

__all__ = ["SQLALCHEMY_2", "NullPool", "create_engine"]


SQLALCHEMY_VERSION = version_tuple(sqlalchemy.__version__)
SQLALCHEMY_2 = SQLALCHEMY_VERSION >= (2, 0)


def create_engine(url: str | URL, **kwargs: Any) -> Engine:
    """``sqlalchemy.create_engine``, 2.0-style on 1.4 too."""
    if not SQLALCHEMY_2:
        kwargs.setdefault("future", True)
    return sqlalchemy.create_engine(url, **kwargs)


try:  # SQLAlchemy 2.0
    from sqlalchemy.ext.asyncio import async_sessionmaker as _async_sessionmaker
except ImportError:  # SQLAlchemy 1.4: sessionmaker(class_=AsyncSession)
    _async_sessionmaker = None  # type: ignore[assignment,misc]


def is_async_sessionmaker(target: object) -> bool:
    """An ``async_sessionmaker``, or on 1.4 its spelling there, ``sessionmaker(class_=
    AsyncSession)``."""
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import sessionmaker

    if _async_sessionmaker is not None and isinstance(target, _async_sessionmaker):
        return True
    return isinstance(target, sessionmaker) and issubclass(target.class_, AsyncSession)


def async_sessionmaker(**options: Any) -> Any:
    """A factory of ``AsyncSession`` objects (an ``async_sessionmaker`` on 2.0)."""
    if _async_sessionmaker is not None:
        return _async_sessionmaker(**options)
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import sessionmaker

    options.setdefault("class_", AsyncSession)
    return sessionmaker(**options)


def requested_isolation_level(engine: Engine) -> str | None:
    """The isolation level an application's engine asks for, if any.

    ``Engine.execution_options(isolation_level=...)`` is public; ``create_engine(
    isolation_level=...)``, the Cosmic Python spelling, is kept by SQLAlchemy only on the dialect,
    under a private name that changed in 2.0. It is read, never written, and a SQLAlchemy without
    it just means the default level.
    """
    level: Any = engine.get_execution_options().get("isolation_level")
    return str(level) if level is not None else dialect_isolation_level(engine.dialect)


def dialect_isolation_level(dialect: Dialect) -> str | None:
    """The isolation level ``create_engine(isolation_level=...)`` gave an engine's dialect (see
    ``requested_isolation_level``)."""
    level: Any = getattr(dialect, "_on_connect_isolation_level", None)
    if level is None:  # SQLAlchemy 1.4 keeps it here
        level = getattr(dialect, "isolation_level", None)
    return str(level) if level is not None else None


def skip_at_item_location(reason: str) -> NoReturn:
    """Skip the running item, reported at the item's own location (as a skip mark's reason is)
    rather than at this line: pytest's keyword for it is private."""
    import pytest

    raise pytest.skip.Exception(reason, _use_item_location=True)


def alembic_steps(script: Any, destination: str, heads: Any, downgrading: bool) -> Any:
    """Alembic's plan from ``heads`` to ``destination``, step by step (what its own ``upgrade``
    and ``downgrade`` commands iterate over; private in Alembic)."""
    if downgrading:
        return script._downgrade_revs(destination, heads)
    return script._upgrade_revs(destination, heads)
