"""``uow_check_migrations``: what is checked of the application's migrations, in a namespace of
their own, and each problem said in one line naming the revision, table or column.

The checks, in order (each later one needs the upgrade to have worked):
- ``single_head``: the history has one head;
- ``upgrade_from_empty``: the migrations build an empty namespace up to head;
- ``models_match``: the migrated tables are what ``uow_metadata`` describes (Alembic's
  autogenerate comparison, types and server defaults included);
- ``downgrade_and_upgrade``: the revisions with a ``downgrade()`` go down (to base, where they
  all have one), leave nothing behind at base, and go up to head again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import Column, DefaultClause, Table

from pytest_uow.migrations.alembic import AlembicSource, several_heads
from pytest_uow.migrations.runner import MigrationError
from pytest_uow.scope import Scope

SINGLE_HEAD = "single_head"
UPGRADE = "upgrade_from_empty"
MODELS = "models_match"
DOWNGRADE = "downgrade_and_upgrade"
CHECKS = (SINGLE_HEAD, UPGRADE, MODELS, DOWNGRADE)

_LEFT_AT_BASE = """
SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relname <> 'alembic_version'
  AND {scope} AND NOT EXISTS (
    SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
ORDER BY 1
"""


@dataclass(frozen=True)
class Outcome:
    """One check's result: its problems (none: it passed), or why it did not run."""

    problems: tuple[str, ...] = ()
    skipped: str | None = None


class Scratch(Protocol):
    """The empty namespace the checks run in (``namespace/opening.py`` opens it)."""

    @property
    def engine(self) -> Engine:
        """Reaches the namespace."""

    @property
    def scope(self) -> Scope:
        """Which schemas of its database the namespace is."""

    @property
    def building(self) -> Callable[[Connection], AbstractContextManager[None]]:
        """Goes around each upgrade and downgrade (``Isolation.building``)."""


def check_migrations(
    source: AlembicSource, models: MetaData | None, scratch: Scratch
) -> dict[str, Outcome]:
    """Every check, in the scratch namespace (empty, and the checks' own)."""
    engine = scratch.engine
    outcomes = {SINGLE_HEAD: _single_head(source)}
    try:
        with (
            engine.connect() as connection,
            connection.begin(),
            scratch.building(connection),
        ):
            source.upgrade(connection)
    except MigrationError as error:
        outcomes[UPGRADE] = Outcome((str(error),))
        not_run = Outcome(skipped="the upgrade from empty failed")
        return {**outcomes, MODELS: not_run, DOWNGRADE: not_run}
    outcomes[UPGRADE] = Outcome()
    outcomes[MODELS] = _models_match(models, engine)
    outcomes[DOWNGRADE] = _downgrade_and_upgrade(source, scratch)
    return outcomes


def _single_head(source: AlembicSource) -> Outcome:
    if len(source.heads) > 1:
        return Outcome((f"uow_alembic: {several_heads(source.heads)}",))
    return Outcome()


def _models_match(models: MetaData | None, engine: Engine) -> Outcome:
    """Alembic's autogenerate comparison of the migrated namespace with the models: what a
    new revision would have to do, said as what differs."""
    if models is None:
        return Outcome(skipped="uow_metadata is not set: no models to compare the migrations with")
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    schemas = {table.schema for table in models.tables.values() if table.schema}

    def named_by_the_models(name: str | None, kind: str, parents: object) -> bool:
        return kind != "schema" or name is None or name in schemas

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_schemas": bool(schemas),
                "include_name": named_by_the_models,
            },
        )
        differences = compare_metadata(context, models)
    lines: list[str] = []
    for difference in differences:
        grouped = difference if isinstance(difference, list) else [difference]
        lines += [describe_difference(tuple(change)) for change in grouped]
    return Outcome(tuple(lines))


def _downgrade_and_upgrade(source: AlembicSource, scratch: Scratch) -> Outcome:
    if len(source.heads) > 1:
        return Outcome(skipped="several heads: the downgrades are checked from a single head")
    steps = source.downgrade_steps
    if not steps:
        return Outcome(
            skipped=f"revision {source.heads[0]}, the head, has no downgrade() (or the history "
            "branches)"
        )
    target = steps[-1][1]
    problems: list[str] = []
    with scratch.engine.connect() as connection:
        try:
            with connection.begin(), scratch.building(connection):
                source.downgrade(connection, target)
                if target == "base":
                    problems += _left_at_base(connection, scratch.scope)
            with connection.begin(), scratch.building(connection):
                source.upgrade(connection)
        except MigrationError as error:
            problems.append(str(error))
    return Outcome(tuple(problems))


def _left_at_base(connection: Connection, scope: Scope) -> list[str]:
    """What the downgrades left of what the upgrades created."""
    left = connection.execute(
        text(_LEFT_AT_BASE.format(scope=scope.condition())), scope.params
    ).scalars()
    own = f"{scope.schema}." if scope.schema else ""
    return [
        f"uow_alembic: after downgrading to base, {name.removeprefix(own)} is still there: a "
        "downgrade() does not drop what its upgrade() created"
        for name in left
    ]


def describe_difference(change: tuple[Any, ...]) -> str:
    """One of Alembic's comparison results (what a new revision would do to the migrated
    schema to make it match the models), said as what differs."""
    kind = change[0]
    described = _DESCRIPTIONS.get(kind)
    if described is not None:
        return described(change)
    if isinstance(kind, str) and kind.startswith("modify_"):
        _, schema, table, column, _, migrated, modelled = change
        attribute = kind.removeprefix("modify_")
        what = {"nullable": "", "default": "server default "}.get(attribute, f"{attribute} ")
        return (
            f"column {_table_name(schema, table)}.{column}: {what}{_shown(migrated)} in the "
            f"migrated schema, {what}{_shown(modelled)} in the models"
        )
    return f"the models and the migrated schema differ: {kind} {change[1:]}"


_IN_MODELS = "is in the models, but not in the migrated schema"
_IN_MIGRATIONS = "is in the migrated schema, but not in the models"


def _table_name(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def _column(change: tuple[Any, ...]) -> str:
    column: Column[Any] = change[3]
    return f"column {_table_name(change[1], change[2])}.{column.name}"


def _table(change: tuple[Any, ...]) -> str:
    table: Table = change[1]
    return f"table {table.fullname}"


def _index(change: tuple[Any, ...]) -> str:
    index = change[1]
    columns = ", ".join(str(getattr(c, "name", c)) for c in index.expressions)
    return f"index {index.name} on {index.table.fullname} ({columns})"


def _constraint(change: tuple[Any, ...]) -> str:
    constraint = change[1]
    columns = ", ".join(column.name for column in constraint.columns)
    kind = "foreign key" if change[0].endswith("_fk") else "constraint"
    name = f" {constraint.name}" if constraint.name else ""
    target = ""
    if kind == "foreign key":
        target = f" -> {constraint.referred_table.fullname}"
    return f"{kind}{name} on {constraint.table.fullname} ({columns}){target}"


_DESCRIPTIONS: dict[str, Callable[[tuple[Any, ...]], str]] = {
    "add_table": lambda change: f"{_table(change)} {_IN_MODELS}",
    "remove_table": lambda change: f"{_table(change)} {_IN_MIGRATIONS}",
    "add_column": lambda change: f"{_column(change)} {_IN_MODELS}",
    "remove_column": lambda change: f"{_column(change)} {_IN_MIGRATIONS}",
    "add_index": lambda change: f"{_index(change)} {_IN_MODELS}",
    "remove_index": lambda change: f"{_index(change)} {_IN_MIGRATIONS}",
    "add_constraint": lambda change: f"{_constraint(change)} {_IN_MODELS}",
    "remove_constraint": lambda change: f"{_constraint(change)} {_IN_MIGRATIONS}",
    "add_fk": lambda change: f"{_constraint(change)} {_IN_MODELS}",
    "remove_fk": lambda change: f"{_constraint(change)} {_IN_MIGRATIONS}",
}


def _shown(value: object) -> str:
    """A type, a nullability or a server default as the line says it."""
    if value is None or value is False:
        return "none" if value is None else "NOT NULL"
    if value is True:
        return "nullable"
    if isinstance(value, DefaultClause):
        value = value.arg
        return repr(str(getattr(value, "text", value)))
    return str(value)
