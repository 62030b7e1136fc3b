"""Which schemas of the database a worker's engine connects to are the worker's own.

In schema mode that is one schema, the worker schema; in database mode it is every schema of
the worker database that a user could have created (all of them are the worker's). The emptying
of dirty tables, the search for lock holders and the leak detector all ask the catalog about
"the worker's tables" through this one condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_USER_SCHEMA = (
    "({alias}.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND {alias}.nspname NOT LIKE 'pg\\_%')"
)


def user_schema(alias: str = "n") -> str:
    """SQL: the ``pg_namespace`` row ``alias`` is a schema users can create tables in."""
    return _USER_SCHEMA.format(alias=alias)


@dataclass(frozen=True)
class Scope:
    """The worker's schemas, as a condition on ``pg_namespace``, and how messages name them."""

    label: str  # "worker schema uow_1a2b_gw0", "worker database uow_1a2b_gw0"
    schema: str | None = None  # the one schema; None: every user schema of the database

    def condition(self, alias: str = "n") -> str:
        """SQL true for the ``pg_namespace`` row ``alias`` when it is one of the worker's;
        its parameters are ``params``."""
        if self.schema is None:
            return user_schema(alias)
        return f"{alias}.nspname = :scope_schema"

    @property
    def params(self) -> dict[str, Any]:
        return {} if self.schema is None else {"scope_schema": self.schema}
