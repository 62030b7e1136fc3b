"""Which SQLAlchemy pytest-uow serves, read from the installed distribution without importing
SQLAlchemy: the entry point decides with it, in every pytest run of the environment, whether to
load the plugin at all."""

from __future__ import annotations

import importlib.metadata
import re

OLDEST_SUPPORTED = (1, 4, 49)


def version_tuple(text: str) -> tuple[int, ...]:
    """``"2.1.0b2"`` -> ``(2, 1, 0)``: the leading digits of each of the first three parts."""
    return tuple(int(re.match(r"\d*", part).group() or 0) for part in text.split(".")[:3])  # type: ignore[union-attr]


def installed_sqlalchemy() -> str | None:
    try:
        return importlib.metadata.version("sqlalchemy")
    except importlib.metadata.PackageNotFoundError:
        return None


def unsupported_sqlalchemy(installed: str | None = None) -> str | None:
    """The one line for a project that configured the plugin, if this SQLAlchemy is too old
    (or missing)."""
    installed = installed or installed_sqlalchemy()
    if installed is not None and version_tuple(installed) >= OLDEST_SUPPORTED:
        return None
    has = f"this environment has {installed}" if installed else "SQLAlchemy is not installed"
    return (
        f"pytest-uow needs SQLAlchemy 1.4.49 or newer (1.4, 2.0, 2.x); {has}: "
        "pip install 'sqlalchemy>=1.4.49'"
    )
