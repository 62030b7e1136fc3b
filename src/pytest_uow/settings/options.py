"""Every setting in one table: its spellings (command line, environment, ini), help, and how
the header and the settings reference show it; declaring them, and telling whether a project
set any.

Kept apart from ``resolve.py``, which reads, checks and loads the values: this module imports
nothing of SQLAlchemy, so the options are declared, and a project that set one recognised, in
every pytest run at no cost, and where the installed SQLAlchemy is one pytest-uow cannot serve.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

STRATEGIES_INI = "uow_strategies"


@dataclass(frozen=True, eq=False)  # each spec is its own: hashed by identity
class Spec:
    """How one setting is spelled in each place it can be given, its help text, and how it is
    shown: in the report header (``label``, ``unset``) and in the settings reference's table
    (``title``, ``default``)."""

    ini: str
    env: str
    option: str | None  # the argparse dest; None when there is no command-line form
    help: str
    cli: dict[str, Any] = field(default_factory=dict)  # metavar, choices or action
    # Yes/no settings are read as strings too: pytest's own "bool" type turns a bad value into
    # an internal error instead of our one-line usage error.
    ini_type: Literal["string", "linelist"] = "string"
    label: str = ""  # the header's name: "uow: <label>=<value> (<source>)"
    unset: str = "none"  # what the header shows when the value is None
    title: str = ""  # the settings reference's name for it
    default: str = "none"  # the settings reference's default column

    @property
    def flag(self) -> str:
        return "--" + (self.option or "").replace("_", "-")

    @property
    def field(self) -> str:
        """The attribute of ``Settings`` that holds the resolved value."""
        return self.ini.removeprefix("uow_")

    @property
    def is_yes_no(self) -> bool:
        return self.cli.get("action") is argparse.BooleanOptionalAction

    def readme_row(self) -> str:
        """This setting's row of the settings reference's table."""
        if self.option is None:
            cli = "—"
        elif self.is_yes_no:
            cli = f"`{self.flag}` / `--no-{self.flag[2:]}`"
        else:
            cli = f"`{self.flag}`"
        env, ini = f"`{self.env}`", f"`{self.ini}`"
        if self.ini_type == "linelist":
            env += " (comma-separated)"
            ini += " (lines)" if self.ini != STRATEGIES_INI else " (lines `pattern = strategy`)"
        return f"| {self.title} | {cli} | {env} | {ini} | {self.default} |"


URL = Spec(
    "uow_database_url",
    "UOW_DATABASE_URL",
    "uow_url",
    "PostgreSQL server to use (default: start a throwaway server)",
    {"metavar": "URL"},
    label="server",
    unset="throwaway",
    title="server",
    default="unset: start a throwaway server",
)
METADATA = Spec(
    "uow_metadata",
    "UOW_METADATA",
    "uow_metadata",
    "the application's MetaData, declarative base or a callable returning one, as "
    "module:attribute; its tables are created in every worker schema",
    {"metavar": "MODULE:ATTR"},
    label="metadata",
    title="tables",
    default="unset: empty schemas",
)
ISOLATION = Spec(
    "uow_isolation",
    "UOW_ISOLATION",
    "uow_isolation",
    "how workers are kept apart: a schema per worker, or a database per worker cloned from a "
    "template (default: schema)",
    {},  # choices: the isolation registry's (add_options)
    label="isolation",
    title="isolation",
    default="`schema`",
)
STRATEGY = Spec(
    "uow_strategy",
    "UOW_STRATEGY",
    "uow_strategy",
    "how each test's writes are undone (default: rollback)",
    {},  # choices: the strategy registry's (add_options)
    label="strategy",
    title="strategy",
    default="`rollback`",
)
KEEP = Spec(
    "uow_keep",
    "UOW_KEEP",
    "uow_keep",
    "keep worker schemas after the run, for inspection",
    {"action": argparse.BooleanOptionalAction},
    label="keep",
    title="keep schemas",
    default="off",
)
KEEP_FAILED = Spec(
    "uow_keep_failed",
    "UOW_KEEP_FAILED",
    "uow_keep_failed",
    "keep what a failed test left in the worker namespace, before its reset, in a schema (or "
    "database) of its own, and print the psql line that opens it (needs uow_database_url)",
    {"action": argparse.BooleanOptionalAction},
    label="keep failed",
    title="keep a failed test's rows",
    default="off",
)
DROP_KEPT = Spec(
    "uow_drop_kept",
    "UOW_DROP_KEPT",
    "uow_drop_kept",
    "drop the worker schemas (or databases) of this prefix that earlier runs kept, at the "
    "start of this run (needs uow_database_url)",
    {"action": argparse.BooleanOptionalAction},
    label="drop kept",
    title="drop kept schemas",
    default="off",
)
PREFIX = Spec(
    "uow_schema_prefix",
    "UOW_SCHEMA_PREFIX",
    "uow_schema_prefix",
    "first part of worker schema names (default: uow)",
    {"metavar": "PREFIX"},
    label="schema prefix",
    title="schema prefix",
    default="`uow`",
)
LOCK_TIMEOUT = Spec(
    "uow_lock_timeout",
    "UOW_LOCK_TIMEOUT",
    "uow_lock_timeout",
    "seconds a statement of a test may wait on a lock before it fails, naming who holds the "
    "lock (0: no limit; default: 10)",
    {"metavar": "SECONDS"},
    label="lock timeout",
    unset="none",
    title="lock timeout",
    default="10 s",
)
SESSIONMAKERS = Spec(
    "uow_sessionmakers",
    "UOW_SESSIONMAKERS",
    None,
    "module:attribute of the application's sessionmakers to re-bind for each test",
    ini_type="linelist",
    label="sessionmakers",
    title="app sessionmakers",
    default="none",
)
STRATEGIES_BY_PATH = Spec(
    STRATEGIES_INI,
    "UOW_STRATEGIES",
    None,
    "strategies for the tests whose node ids match a pattern, one 'pattern = strategy' per line "
    "(fnmatch, e.g. tests/e2e/* = truncate); the uow marker still wins",
    ini_type="linelist",
    label="strategies",
    title="strategies by node id",
    default="none",
)
PG_BINDIR = Spec(
    "uow_pg_bindir",
    "UOW_PG_BINDIR",
    "uow_pg_bindir",
    "directory holding initdb and postgres for the throwaway server (default: discovered)",
    {"metavar": "DIR"},
    label="pg bindir",
    unset="discovered",
    title="PostgreSQL binaries",
    default="discovered",
)
CHECK_LEAKS = Spec(
    "uow_check_leaks",
    "UOW_CHECK_LEAKS",
    "uow_check_leaks",
    "after each database test, report rows left in the worker schema and rows written "
    "outside it, as an error of that test",
    {"action": argparse.BooleanOptionalAction},
    label="check leaks",
    title="leak detector",
    default="off",
)
REBUILD = Spec(
    "uow_rebuild",
    "UOW_REBUILD",
    "uow_rebuild",
    "build template databases afresh even where one built from the same tables exists",
    {"action": argparse.BooleanOptionalAction},
    label="rebuild",
    title="rebuild templates",
    default="off",
)
SEED = Spec(
    "uow_seed",
    "UOW_SEED",
    "uow_seed",
    "module:callable called with a Connection once the tables exist; the rows it inserts are "
    "the baseline every test starts from",
    {"metavar": "MODULE:CALLABLE"},
    label="seed",
    title="seed (reference data)",
    default="none",
)
ALEMBIC = Spec(
    "uow_alembic",
    "UOW_ALEMBIC",
    "uow_alembic",
    "path to alembic.ini: worker namespaces are built by upgrading to head (instead of "
    "uow_metadata's create_all)",
    {"metavar": "INI"},
    label="alembic",
    title="migrations",
    default="unset: tables from `uow_metadata`",
)
CHECK_MIGRATIONS = Spec(
    "uow_check_migrations",
    "UOW_CHECK_MIGRATIONS",
    "uow_check_migrations",
    "check uow_alembic's migrations once per run, as test items uow::migrations::*: a single "
    "head, an upgrade from empty, the models matching the migrated schema, downgrades",
    {"action": argparse.BooleanOptionalAction},
    label="check migrations",
    title="migration checks",
    default="off",
)
LIVE_APP = Spec(
    "uow_live_app",
    "UOW_LIVE_APP",
    "uow_live_app",
    "the application uow_live_server serves, as module:attribute: a WSGI app (Flask), an ASGI "
    "app (FastAPI, Starlette), or a factory returning one, called with no arguments",
    {"metavar": "MODULE:ATTR"},
    label="live app",
    title="live server app",
    default="none",
)
SPECS = (
    URL,
    METADATA,
    ISOLATION,
    STRATEGY,
    STRATEGIES_BY_PATH,
    KEEP,
    KEEP_FAILED,
    DROP_KEPT,
    PREFIX,
    LOCK_TIMEOUT,
    SESSIONMAKERS,
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


def set_by(config: pytest.Config) -> list[str]:
    """Where the project set any setting (``UOW_STRATEGY``, ``--uow-keep``, ``uow_metadata``):
    none means the project has not configured pytest-uow."""
    where = [spec.env for spec in SPECS if spec.env in os.environ]
    where += [
        spec.flag
        for spec in SPECS
        if spec.option is not None and config.getoption(spec.option, None) is not None
    ]
    where += [spec.ini for spec in SPECS if config.getini(spec.ini) not in (None, [])]
    return where


def readme_table() -> str:
    """The settings reference's table, generated from ``SPECS`` (``docs/hooks.py`` puts it on
    the page as the site is built)."""
    head = "| setting | command line | environment | ini | default |\n|---|---|---|---|---|\n"
    return head + "".join(f"{spec.readme_row()}\n" for spec in SPECS)
