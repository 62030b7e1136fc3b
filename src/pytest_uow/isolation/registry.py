"""The one list of isolation modes: ``uow_isolation``'s choices come from it."""

from __future__ import annotations

from collections.abc import Mapping

from pytest_uow.isolation import schema
from pytest_uow.isolation.base import IsolationMode

ISOLATIONS: Mapping[str, IsolationMode] = {
    mode.name: mode for mode in (IsolationMode("schema", schema.SchemaIsolation, schema.refusal),)
}
DEFAULT_ISOLATION = "schema"
