"""The one list of isolation modes: ``uow_isolation``'s choices come from it."""

from __future__ import annotations

from collections.abc import Mapping

from pytest_uow.isolation import database, schema
from pytest_uow.isolation.base import IsolationMode

ISOLATIONS: Mapping[str, IsolationMode] = {
    mode.name: mode
    for mode in (
        IsolationMode(
            "schema",
            schema.SchemaIsolation.noun,
            schema.SchemaIsolation,
            schema.refusal,
            schema.PRIVILEGE,
        ),
        IsolationMode(
            "database",
            database.DatabaseIsolation.noun,
            database.DatabaseIsolation,
            database.refusal,
            database.PRIVILEGE,
            uses_source_identity=True,
        ),
    )
}
DEFAULT_ISOLATION = "schema"
