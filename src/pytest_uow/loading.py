"""Importing the application objects that settings name as ``module:attribute``."""

from __future__ import annotations

import importlib


def load_object(spec: str) -> object:
    """Import ``module:attribute`` (the attribute may be dotted); ValueError says what failed."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError("expected module:attribute, e.g. myapp.models:metadata")
    try:
        target: object = importlib.import_module(module_name)
    except Exception as error:  # any import-time failure of user code is reported the same way
        raise ValueError(
            f"cannot import {module_name}: {type(error).__name__}: {error}{_remedy(error)}"
        ) from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"module {module_name} has no attribute {attribute}") from None
    return target


def _remedy(error: Exception) -> str:
    """What to do about an import failure with a known cause."""
    if isinstance(error, ModuleNotFoundError) and error.name == "psycopg":
        return (
            " (SQLAlchemy 2.1 reads a URL without a driver, postgresql://, as psycopg 3: "
            "pip install 'psycopg[binary]', or name psycopg2 in the application's URL, "
            "postgresql+psycopg2://)"
        )
    return ""
