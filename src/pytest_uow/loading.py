"""Importing what settings name as ``module:attribute``, and registries that import their
entries only when asked."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


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


def check_importable(spec: str) -> str:
    """``spec`` if it is ``module:attribute`` and the module can be found, without importing
    it (only its parent packages); ValueError says what is wrong, as ``load_object`` would."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise ValueError("expected module:attribute, e.g. myapp.models:metadata")
    try:
        found = importlib.util.find_spec(module_name)
    except Exception as error:  # a parent package that fails to import
        raise ValueError(f"cannot import {module_name}: {type(error).__name__}: {error}") from None
    if found is None:
        raise ValueError(
            f"cannot import {module_name}: ModuleNotFoundError: No module named {module_name!r}"
        )
    return spec


def _remedy(error: Exception) -> str:
    """What to do about an import failure with a known cause."""
    if isinstance(error, ModuleNotFoundError) and error.name == "psycopg":
        return (
            " (SQLAlchemy 2.1 reads a URL without a driver, postgresql://, as psycopg 3: "
            "pip install 'psycopg[binary]', or name psycopg2 in the application's URL, "
            "postgresql+psycopg2://)"
        )
    return ""


class LazyRegistry(Mapping[str, T]):
    """A registry whose names are known at once and whose entries are imported when first
    asked for: the command line's choices come from it in every pytest run, at no cost."""

    def __init__(self, entries: Mapping[str, str], make: Callable[[Any], T]) -> None:
        """``entries`` maps each name to ``module:attribute``; ``make`` turns what that names
        into the entry."""
        self._entries = dict(entries)
        self._make = make
        self._loaded: dict[str, T] = {}

    def __getitem__(self, name: str) -> T:
        if name not in self._loaded:
            spec = self._entries[name]
            module, _, attribute = spec.partition(":")
            self._loaded[name] = self._make(getattr(importlib.import_module(module), attribute))
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
