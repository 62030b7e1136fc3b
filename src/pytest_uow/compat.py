"""What differs between the SQLAlchemy versions pytest-uow serves (1.4, 2.0, 2.x), in one place.
Importable on any SQLAlchemy, so that it can tell an older one apart (``plugin.py``).

The plugin's own engines are 2.0-style everywhere (``future=True`` on 1.4: ``Connection.commit``,
autobegin), so the rest of the package is written once, against that API. What cannot be made
alike is asked of this module: which version is installed and whether SQLAlchemy's
``join_transaction_mode`` exists (2.0), else the 1.4 recipe is used (``strategies/rollback.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sqlalchemy
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

__all__ = ["SQLALCHEMY_2", "NullPool", "create_engine", "unsupported_sqlalchemy"]


def _version(text: str) -> tuple[int, ...]:
    """``"2.1.0b2"`` -> ``(2, 1, 0)``: the leading digits of each of the first three parts."""
    return tuple(int(re.match(r"\d*", part).group() or 0) for part in text.split(".")[:3])  # type: ignore[union-attr]


SQLALCHEMY_VERSION = _version(sqlalchemy.__version__)
SQLALCHEMY_2 = SQLALCHEMY_VERSION >= (2, 0)
OLDEST_SUPPORTED = (1, 4, 49)


def unsupported_sqlalchemy() -> str | None:
    """The one line for a project that configured the plugin, if this SQLAlchemy is too old."""
    if SQLALCHEMY_VERSION >= OLDEST_SUPPORTED:
        return None
    return (
        f"pytest-uow needs SQLAlchemy 1.4.49 or newer (1.4, 2.0, 2.x); this environment has "
        f"{sqlalchemy.__version__}: pip install 'sqlalchemy>=1.4.49'"
    )


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
