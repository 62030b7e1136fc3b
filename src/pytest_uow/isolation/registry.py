"""The one list of isolation modes: ``uow_isolation``'s choices come from it. The names are
known without importing the modes (every pytest run reads them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_uow.loading import LazyRegistry

if TYPE_CHECKING:
    from pytest_uow.isolation.base import IsolationMode


def _mode(entry: Any) -> IsolationMode:
    mode: IsolationMode = entry
    return mode


ISOLATIONS: Mapping[str, IsolationMode] = LazyRegistry(
    {
        "schema": "pytest_uow.isolation.schema:MODE",
        "database": "pytest_uow.isolation.database:MODE",
    },
    _mode,
)
DEFAULT_ISOLATION = "schema"
