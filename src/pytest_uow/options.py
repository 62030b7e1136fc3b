"""Every setting's spellings (command line, environment, ini) and help, and declaring them.

Kept apart from ``config.py``, which resolves and checks the values and loads what they name:
this module imports nothing of SQLAlchemy, so the options can be declared, and a project that
set one recognised, even where the installed SQLAlchemy is one pytest-uow cannot serve.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest


@dataclass(frozen=True)
class Spec:
    """How one setting is spelled in each place it can be given, and its help text."""

    ini: str
    env: str
    option: str | None  # the argparse dest; None when there is no command-line form
    help: str
    cli: dict[str, Any] = field(default_factory=dict)  # metavar, choices or action
    # Yes/no settings are read as strings too: pytest's own "bool" type turns a bad value into
    # an internal error instead of our one-line usage error.
    ini_type: Literal["string", "linelist"] = "string"

    @property
    def flag(self) -> str:
        return "--" + (self.option or "").replace("_", "-")


URL = Spec(
    "uow_database_url",
    "UOW_DATABASE_URL",
    "uow_url",
    "PostgreSQL server to use (default: start a throwaway server)",
    {"metavar": "URL"},
)
METADATA = Spec(
    "uow_metadata",
    "UOW_METADATA",
    "uow_metadata",
    "the application's MetaData, declarative base or a callable returning one, as "
    "module:attribute; its tables are created in every worker schema",
    {"metavar": "MODULE:ATTR"},
)
ISOLATION = Spec(
    "uow_isolation",
    "UOW_ISOLATION",
    "uow_isolation",
    "how workers are kept apart: a schema per worker, or a database per worker cloned from a "
    "template (default: schema)",
    {},  # choices: the isolation registry's (add_options)
)
STRATEGY = Spec(
    "uow_strategy",
    "UOW_STRATEGY",
    "uow_strategy",
    "how each test's writes are undone (default: rollback)",
    {},  # choices: the strategy registry's (add_options)
)
KEEP = Spec(
    "uow_keep",
    "UOW_KEEP",
    "uow_keep",
    "keep worker schemas after the run, for inspection",
    {"action": argparse.BooleanOptionalAction},
)
DROP_KEPT = Spec(
    "uow_drop_kept",
    "UOW_DROP_KEPT",
    "uow_drop_kept",
    "drop the worker schemas (or databases) of this prefix that earlier runs kept, at the "
    "start of this run (needs uow_database_url)",
    {"action": argparse.BooleanOptionalAction},
)
PREFIX = Spec(
    "uow_schema_prefix",
    "UOW_SCHEMA_PREFIX",
    "uow_schema_prefix",
    "first part of worker schema names (default: uow)",
    {"metavar": "PREFIX"},
)
SESSIONMAKERS = Spec(
    "uow_sessionmakers",
    "UOW_SESSIONMAKERS",
    None,
    "module:attribute of the application's sessionmakers to re-bind for each test",
    ini_type="linelist",
)
STRATEGIES_BY_PATH = Spec(
    "uow_strategies",
    "UOW_STRATEGIES",
    None,
    "strategies for the tests whose node ids match a pattern, one 'pattern = strategy' per line "
    "(fnmatch, e.g. tests/e2e/* = truncate); the uow marker still wins",
    ini_type="linelist",
)
PG_BINDIR = Spec(
    "uow_pg_bindir",
    "UOW_PG_BINDIR",
    "uow_pg_bindir",
    "directory holding initdb and postgres for the throwaway server (default: discovered)",
    {"metavar": "DIR"},
)
CHECK_LEAKS = Spec(
    "uow_check_leaks",
    "UOW_CHECK_LEAKS",
    "uow_check_leaks",
    "after each database test, report rows left in the worker schema and rows written "
    "outside it, as an error of that test",
    {"action": argparse.BooleanOptionalAction},
)
REBUILD = Spec(
    "uow_rebuild",
    "UOW_REBUILD",
    "uow_rebuild",
    "build template databases afresh even where one built from the same tables exists",
    {"action": argparse.BooleanOptionalAction},
)
SEED = Spec(
    "uow_seed",
    "UOW_SEED",
    "uow_seed",
    "module:callable called with a Connection once the tables exist; the rows it inserts are "
    "the baseline every test starts from",
    {"metavar": "MODULE:CALLABLE"},
)
ALEMBIC = Spec(
    "uow_alembic",
    "UOW_ALEMBIC",
    "uow_alembic",
    "path to alembic.ini: worker namespaces are built by upgrading to head (instead of "
    "uow_metadata's create_all)",
    {"metavar": "INI"},
)
CHECK_MIGRATIONS = Spec(
    "uow_check_migrations",
    "UOW_CHECK_MIGRATIONS",
    "uow_check_migrations",
    "check uow_alembic's migrations once per run, as test items uow::migrations::*: a single "
    "head, an upgrade from empty, the models matching the migrated schema, downgrades",
    {"action": argparse.BooleanOptionalAction},
)
LIVE_APP = Spec(
    "uow_live_app",
    "UOW_LIVE_APP",
    "uow_live_app",
    "the application uow_live_server serves, as module:attribute: a WSGI app (Flask), an ASGI "
    "app (FastAPI, Starlette), or a factory returning one, called with no arguments",
    {"metavar": "MODULE:ATTR"},
)
SPECS = (
    URL,
    METADATA,
    ISOLATION,
    STRATEGY,
    KEEP,
    DROP_KEPT,
    PREFIX,
    SESSIONMAKERS,
    STRATEGIES_BY_PATH,
    PG_BINDIR,
    CHECK_LEAKS,
    REBUILD,
    SEED,
    ALEMBIC,
    CHECK_MIGRATIONS,
    LIVE_APP,
)


def add_options(parser: pytest.Parser, choices: Mapping[str, Sequence[str]]) -> None:
    """Declare every setting; all default to ``None`` so that "unset" differs from "off".
    ``choices`` gives, by ini name, the values a setting allows on the command line."""
    group = parser.getgroup("uow", "pytest-uow: isolated PostgreSQL per xdist worker")
    for spec in SPECS:
        if spec.option is not None:
            group.addoption(
                spec.flag,
                dest=spec.option,
                default=None,
                help=f"{spec.help}. Env {spec.env}, ini {spec.ini}.",
                **spec.cli,
                **({"choices": tuple(choices[spec.ini])} if spec.ini in choices else {}),
            )
        parser.addini(spec.ini, spec.help, type=spec.ini_type, default=None)


ENVIRONMENT_VARIABLES = tuple(spec.env for spec in SPECS)
