"""Settings: every one through command line, environment and ini; precedence; and the one-line
usage error for each kind of bad value."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from pytest_uow import compat
from pytest_uow.report import settings_lines
from pytest_uow.settings.options import SPECS
from pytest_uow.settings.resolve import resolve
from tests.conftest import schemas_named

PYTHONPATH_INI = '[tool.pytest.ini_options]\npythonpath = ["."]\n'


def _pg_bindir() -> str:
    return subprocess.run(
        ["pg_config", "--bindir"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _every_value(server_url: str, prefix: str) -> dict[str, tuple[str, str]]:
    """A value for every setting the table has, by ini name: (as given, as the header shows it).
    Checked against ``options.SPECS``, so a new setting cannot go untested."""
    values = {
        "uow_database_url": (
            server_url,
            make_url(server_url).render_as_string(hide_password=True),
        ),
        "uow_metadata": ("models:metadata", "models:metadata"),
        "uow_isolation": ("schema", "schema"),
        "uow_strategy": ("truncate", "truncate"),
        "uow_strategies": ("nothing/* = recreate", "nothing/* = recreate"),
        "uow_keep": ("true", "on"),
        "uow_keep_failed": ("true", "on"),
        "uow_drop_kept": ("on", "on"),
        "uow_schema_prefix": (prefix, prefix),
        "uow_lock_timeout": ("2.5", "2.5 s"),
        "uow_sessionmakers": ("app:DEFAULT_SESSION_FACTORY", "app:DEFAULT_SESSION_FACTORY"),
        "uow_pg_bindir": (_pg_bindir(), _pg_bindir()),
        "uow_check_leaks": ("yes", "on"),
        "uow_rebuild": ("1", "on"),
        "uow_seed": ("seed:seed", "seed:seed"),
        "uow_alembic": ("alembic.ini", "alembic.ini"),
        "uow_check_migrations": ("on", "on"),
        "uow_live_app": ("app:create_app", "app:create_app"),
    }
    assert sorted(values) == sorted(spec.ini for spec in SPECS)
    return values


def _given_through(
    source: str,
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    values: dict[str, tuple[str, str]],
) -> tuple[list[str], dict[str, str]]:
    """Give every setting through ``source`` (settings with no command-line form through the
    environment); return the command-line arguments, and where the header says each came from."""
    args: list[str] = []
    ini = PYTHONPATH_INI
    where = {}
    for spec in SPECS:
        given = values[spec.ini][0]
        if source == "cli" and spec.option is not None:
            args.append(spec.flag if spec.is_yes_no else f"{spec.flag}={given}")
            where[spec.ini] = f"command line {spec.flag}"
        elif source in ("cli", "env"):
            monkeypatch.setenv(spec.env, given)
            where[spec.ini] = f"environment {spec.env}"
        else:
            shown = f'["{given}"]' if spec.ini_type == "linelist" else f'"{given}"'
            ini += f"{spec.ini} = {shown}\n"
            where[spec.ini] = f"ini {spec.ini} in pyproject.toml"
    project.makepyprojecttoml(ini)
    return args, where


@pytest.mark.parametrize("source", ["cli", "env", "ini"])
def test_every_setting_from_each_source(
    project: pytest.Pytester,
    outside: Engine,
    server_url: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    """All seventeen at once, in a project that can take them all (migrations and their models,
    a seed, a live app): each is shown in the header with its source, and each does its part
    (the schema is named by the prefix, built by the migrations, seeded, kept)."""
    monkeypatch.delenv("UOW_DATABASE_URL")
    monkeypatch.setenv("EXPECTED_PREFIX", prefix)
    project.copy_example("migrations")
    project.copy_example("settings/everything")
    values = _every_value(server_url, prefix)
    args, where = _given_through(source, project, monkeypatch, values)

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", *args, "test_every_setting.py"
    )

    result.assert_outcomes(passed=5)  # the test, and the four migration checks
    header = [line for line in result.outlines if line.startswith("uow: ")]
    for spec in SPECS:
        assert f"uow: {spec.label}={values[spec.ini][1]} ({where[spec.ini]})" in header
    kept = schemas_named(outside, prefix)
    assert len(kept) == 1, "keep=on leaves the worker schema for inspection"
    result.stdout.fnmatch_lines([f"uow: worker schemas {kept[0]} kept"])
    with outside.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {kept[0]} CASCADE"))


@pytest.mark.parametrize(
    ("ini", "env", "cli", "winner", "source"),
    [
        ("fromini", "fromenv", "fromcli", "fromcli", "command line --uow-schema-prefix"),
        ("fromini", "fromenv", None, "fromenv", "environment UOW_SCHEMA_PREFIX"),
        ("fromini", None, None, "fromini", "ini uow_schema_prefix in pyproject.toml"),
        (None, None, None, "uow", "default"),
    ],
)
def test_precedence_command_line_environment_ini_default(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ini: str | None,
    env: str | None,
    cli: str | None,
    winner: str,
    source: str,
) -> None:
    """In-process: which value wins is pure logic (that the winner names the worker schema is
    shown by test_every_setting_from_each_source)."""
    ini_line = f'uow_schema_prefix = "{ini}"\n' if ini else ""
    project.makepyprojecttoml(PYTHONPATH_INI + ini_line)
    if env:
        monkeypatch.setenv("UOW_SCHEMA_PREFIX", env)

    settings = resolve(project.parseconfig(*([f"--uow-schema-prefix={cli}"] if cli else [])))

    assert (settings.schema_prefix.value, settings.schema_prefix.source) == (winner, source)
    assert f"uow: schema prefix={winner} ({source})" in settings_lines(settings)


def test_a_value_given_with_dash_o_is_from_the_command_line(project: pytest.Pytester) -> None:
    project.makepyprojecttoml(PYTHONPATH_INI + 'uow_strategy = "recreate"\n')

    settings = resolve(project.parseconfig("-o", "uow_strategy=truncate"))

    assert (settings.strategy.value, settings.strategy.source) == (
        "truncate",
        "command line -o uow_strategy",
    )


def test_explicit_off_on_the_command_line_beats_the_environment(
    project: pytest.Pytester, outside: Engine, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UOW_KEEP", "1")
    monkeypatch.setenv("EXPECTED_PREFIX", prefix)
    project.copy_example("settings/test_schema.py")

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "--no-uow-keep", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["uow: keep=off (command line --uow-keep)"])
    assert schemas_named(outside, prefix) == []


BAD_VALUES = [
    (
        "env",
        "UOW_STRATEGY",
        "truncated",
        "uow_strategy: 'truncated' from environment UOW_STRATEGY: not one of: rollback, truncate, "
        "recreate",
    ),
    (
        "ini",
        "uow_isolation",
        "databases",
        "uow_isolation: 'databases' from ini uow_isolation in pyproject.toml: not one of: "
        "schema, database",
    ),
    (
        "env",
        "UOW_SEED",
        "app:metadata",
        "uow_seed: 'app:metadata' from environment UOW_SEED: is a MetaData; expected a callable "
        "taking a Connection, a Session or an AsyncSession, or nothing",
    ),
    (
        "ini",
        "uow_seed",
        "app:no_such_seed",
        "uow_seed: 'app:no_such_seed' from ini uow_seed in pyproject.toml: module app has no "
        "attribute no_such_seed",
    ),
    (
        "env",
        "UOW_REBUILD",
        "maybe",
        "uow_rebuild: 'maybe' from environment UOW_REBUILD: not a yes/no value; use one of: 1, "
        "true, yes, on, 0, false, no, off",
    ),
    (
        "env",
        "UOW_DATABASE_URL",
        "mysql://root@localhost/test",
        "uow_database_url: 'mysql://root@localhost/test' from environment UOW_DATABASE_URL: "
        "pytest-uow needs PostgreSQL, not mysql; expected postgresql://user@host:port/database",
    ),
    (
        "cli",
        "--uow-url",
        "not a url",
        "uow_database_url: 'not a url' from command line --uow-url: not a database URL; "
        "expected postgresql://user@host:port/database",
    ),
    (
        "ini",
        "uow_metadata",
        "missing_module:metadata",
        "uow_metadata: 'missing_module:metadata' from ini uow_metadata in pyproject.toml: "
        "cannot import missing_module: ModuleNotFoundError: No module named 'missing_module'",
    ),
    (
        "env",
        "UOW_METADATA",
        "app:nothing",
        "uow_metadata: 'app:nothing' from environment UOW_METADATA: module app has no attribute "
        "nothing",
    ),
    (
        "env",
        "UOW_METADATA",
        "app",
        "uow_metadata: 'app' from environment UOW_METADATA: expected module:attribute, "
        "e.g. myapp.models:metadata",
    ),
    (
        "env",
        "UOW_SCHEMA_PREFIX",
        "Robert'); DROP",
        'uow_schema_prefix: "Robert\'); DROP" from environment UOW_SCHEMA_PREFIX: not a safe '
        "schema name prefix; use lowercase letters, digits and _, starting with a letter or _, "
        "at most 40 characters",
    ),
    (
        "env",
        "UOW_KEEP",
        "maybe",
        "uow_keep: 'maybe' from environment UOW_KEEP: not a yes/no value; use one of: 1, true, "
        "yes, on, 0, false, no, off",
    ),
    (
        "ini",
        "uow_check_leaks",
        "always",
        "uow_check_leaks: 'always' from ini uow_check_leaks in pyproject.toml: not a yes/no value; "
        "use one of: 1, true, yes, on, 0, false, no, off",
    ),
    (
        "env",
        "UOW_SESSIONMAKERS",
        "app:metadata",
        "uow_sessionmakers: 'app:metadata' from environment UOW_SESSIONMAKERS: app:metadata is a "
        "MetaData; expected a sessionmaker, scoped_session, async_sessionmaker or "
        "async_scoped_session, a Flask-SQLAlchemy extension object, an Engine or AsyncEngine, "
        "or a function returning sessions",
    ),
    (
        "cli",
        "--uow-pg-bindir",
        "/nonexistent",
        "uow_pg_bindir: '/nonexistent' from command line --uow-pg-bindir: no initdb or postgres in "
        "that directory; name the bin directory of a PostgreSQL installation (as printed by "
        "pg_config --bindir)",
    ),
]


def _given(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str, name: str, value: str
) -> list[str]:
    """Give one setting through ``source``; return the command-line arguments to use."""
    if source == "env":
        monkeypatch.setenv(name, value)
        return []
    if source == "cli":
        return [f"{name}={value}"]
    project.makepyprojecttoml(PYTHONPATH_INI + f'{name} = "{value}"\n')
    return []


@pytest.mark.parametrize(
    ("source", "name", "value", "message"),
    BAD_VALUES,
    ids=[f"{s}-{n}-{v}" for s, n, v, _ in BAD_VALUES],
)
def test_bad_value_is_a_usage_error_naming_setting_source_and_choices(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    name: str,
    value: str,
    message: str,
) -> None:
    """In-process: the settings are resolved from a configuration pytest parsed as it would
    for the run; a subprocess run per value would only repeat the two cases below."""
    args = _given(project, monkeypatch, source, name, value)
    project.syspathinsert()
    config = project.parseconfig(*args)

    with pytest.raises(pytest.UsageError) as raised:
        resolve(config)

    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("source", "name", "value", "message"),
    [BAD_VALUES[0], BAD_VALUES[1]],
    ids=[f"{source}-{name}" for source, name, _, _ in BAD_VALUES[:2]],
)
def test_bad_value_stops_the_run_with_one_line_and_exit_code_4(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    name: str,
    value: str,
    message: str,
) -> None:
    args = _given(project, monkeypatch, source, name, value)
    project.makepyfile(test_nothing="def test_nothing(uow_session): pass")

    result = project.runpytest_subprocess("-p", "no:xdist", *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.errlines[0] == f"ERROR: {message}"
    assert "Traceback" not in result.stderr.str()


def test_command_line_choices_come_from_the_registry(project: pytest.Pytester) -> None:
    project.makepyfile(test_nothing="def test_nothing(): pass")

    result = project.runpytest_subprocess("-p", "no:xdist", "--uow-strategy=fast")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*error: argument --uow-strategy: invalid choice: 'fast' "
            "(choose from *rollback*truncate*recreate*)"
        ]
    )


@pytest.mark.parametrize("isolation", ["schema", "database"])
def test_tables_naming_a_schema_are_refused_in_schema_mode_only(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, isolation: str
) -> None:
    """In-process, as above: the refusal names the isolation mode that serves such models."""
    project.copy_example("database/billing.py")
    monkeypatch.setenv("UOW_METADATA", "billing:metadata")
    monkeypatch.setenv("UOW_ISOLATION", isolation)
    project.syspathinsert()
    config = project.parseconfig()

    if isolation == "database":
        assert resolve(config).source.tables_naming_a_schema() == ["billing.invoices"]
        return
    with pytest.raises(pytest.UsageError) as raised:
        resolve(config)

    assert str(raised.value) == (
        "uow_metadata: 'billing:metadata' from environment UOW_METADATA: tables "
        "billing.invoices name their own schema, and a worker schema holds only tables that name "
        "none: set UOW_ISOLATION=database (a database per worker holds every schema), or leave "
        "Table(schema=...) unset"
    )


@pytest.mark.parametrize(
    ("mode", "indexes", "passed"),
    # --dist=each: every test on every worker, so that each worker's index is seen.
    [(["-n", "2", "--dist=each"], ["0", "1"], 16), (["-p", "no:xdist"], ["0"], 8)],
)
def test_uow_dsn_and_uow_worker_index(
    project: pytest.Pytester,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: list[str],
    indexes: list[str],
    passed: int,
) -> None:
    """A plain libpq URL of the worker's namespace, for clients that are not SQLAlchemy; and a
    number per worker, for a port of its own."""
    monkeypatch.setenv("REPORT_DIR", str(tmp_path))
    project.copy_example("clients/test_clients.py")

    result = project.runpytest_subprocess(*mode, "-p", "no:randomly")

    result.assert_outcomes(passed=passed)
    assert sorted(path.name for path in tmp_path.iterdir()) == indexes


@pytest.mark.skipif(
    compat.SQLALCHEMY_VERSION < (2, 1), reason="SQLAlchemy 2.1 reads postgresql:// as psycopg 3"
)
def test_an_app_whose_driverless_url_needs_psycopg_is_told_the_remedy(
    pytester: pytest.Pytester,
) -> None:
    # An environment without psycopg 3, as one with only the plugin installed.
    pytester.makeconftest("import sys\n\nsys.modules['psycopg'] = None\n")
    pytester.makepyfile(
        papp="""
        from sqlalchemy import MetaData, create_engine

        metadata = MetaData()
        engine = create_engine("postgresql://app@127.0.0.1:1/app")
        """
    )
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "papp:metadata"\n'
    )

    result = pytester.runpytest_subprocess("-p", "no:xdist")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = result.stderr.str().strip().splitlines()
    assert line.startswith(
        "ERROR: uow_metadata: 'papp:metadata' from ini uow_metadata in pyproject.toml: cannot "
        "import papp: ModuleNotFoundError: "
    )
    assert line.endswith(
        " (SQLAlchemy 2.1 reads a URL without a driver, postgresql://, as psycopg 3: pip install "
        "'psycopg[binary]', or name psycopg2 in the application's URL, postgresql+psycopg2://)"
    )
