"""``uow_alembic``: worker namespaces built by the application's Alembic migrations, handed the
plugin's connection. The migrations run once per run (the first build is captured and replayed
by the other workers) and not at all in a later run while the migration files are unchanged.
Rows the migrations insert, and ``alembic_version``, are the baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from pytest_uow.compat import SQLALCHEMY_2
from tests.conftest import databases_named, migrations_run, schemas_named


@pytest.mark.parametrize(
    "isolation",
    [
        "schema",
        "database",
    ],
)
def test_migrations_run_once_per_run_and_not_again_while_unchanged(
    migrated: pytest.Pytester,
    outside: Engine,
    own_prefix: str,
    tmp_path: Path,
    isolation: str,
) -> None:
    args = ["-n", "2", f"--uow-isolation={isolation}", f"--uow-schema-prefix={own_prefix}"]

    first = migrated.runpytest_subprocess(*args)
    after_first = migrations_run(tmp_path)
    second = migrated.runpytest_subprocess(*args)
    after_second = migrations_run(tmp_path)
    rebuilt = migrated.runpytest_subprocess(*args, "--uow-rebuild")

    for result in (first, second, rebuilt):
        result.assert_outcomes(passed=6)
    first.stdout.fnmatch_lines(["uow: alembic=alembic.ini (ini uow_alembic in pyproject.toml)"])
    assert after_first == ["0001", "0002", "0003"], "once per run, not once per worker"
    assert after_second == after_first, "no migration code in a run with unchanged migrations"
    assert migrations_run(tmp_path) == after_first * 2, "--uow-rebuild migrates afresh"
    assert schemas_named(outside, own_prefix) == []
    left = list(databases_named(outside, own_prefix))
    assert all(name.startswith(f"{own_prefix}_tpl_") for name in left), left


def test_a_changed_migration_runs_the_migrations_again(
    migrated: pytest.Pytester, tmp_path: Path
) -> None:
    first = migrated.runpytest_subprocess("-p", "no:xdist")
    script = migrated.path / "migrations" / "versions" / "0003_email.py"
    script.write_text(script.read_text().replace("sa.String(100)", "sa.String(200)"))
    second = migrated.runpytest_subprocess("-p", "no:xdist")

    first.assert_outcomes(passed=6)
    second.assert_outcomes(passed=6)
    assert migrations_run(tmp_path) == ["0001", "0002", "0003"] * 2


def test_a_failing_migration_is_one_line_naming_its_revision(
    migrated: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREAK_MIGRATION", "1")

    result = migrated.runpytest_subprocess("-p", "no:xdist", "test_migrated.py::test_rollback")

    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "pytest-uow could not create worker schema uow_*_main on *: uow_alembic: revision "
            '0003 failed: UndefinedTable: relation "no_such_table" does not exist, in ALTER '
            "TABLE no_such_table ADD COLUMN email text"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_migration_that_writes_to_public_is_reported_and_leaves_nothing_there(
    migrated: pytest.Pytester, outside: Engine, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    table = f"{prefix}_stray"
    monkeypatch.setenv("MIGRATE_INTO_PUBLIC", table)

    result = migrated.runpytest_subprocess("-p", "no:xdist", "test_migrated.py::test_rollback")

    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            f"*uow_alembic: revision 0003 created public.{table} outside the worker schema "
            "uow_*_main: leave the schema out of the migration (or use UOW_ISOLATION=database)"
        ]
    )
    with outside.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT to_regclass('public.{table}')").scalar() is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "missing",
            "uow_alembic: 'missing.ini' from command line --uow-alembic: no such file: "
            "*missing.ini",
        ),
        (
            "two heads",
            "uow_alembic: 'alembic.ini' from command line --uow-alembic: several heads (0003, "
            "0003b): merge them with 'alembic merge heads' so that head is one revision",
        ),
    ],
)
def test_bad_migration_setups_are_one_line_at_start_up(
    migrated: pytest.Pytester, change: str, message: str
) -> None:
    ini = "missing.ini" if change == "missing" else "alembic.ini"
    versions = migrated.path / "migrations" / "versions"
    if change == "two heads":
        (versions / "0003b_branch.py").write_text(
            'revision = "0003b"\ndown_revision = "0002"\n\n\ndef upgrade():\n    pass\n'
        )

    result = migrated.runpytest_subprocess("-p", "no:xdist", f"--uow-alembic={ini}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_with_uow_metadata_too_the_header_says_which_builds_the_tables(
    migrated: pytest.Pytester,
) -> None:
    migrated.copy_example("project/app.py")

    result = migrated.runpytest_subprocess(
        "-p", "no:xdist", "--uow-metadata=app:metadata", "test_migrated.py::test_rollback"
    )

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "uow: metadata=app:metadata (command line --uow-metadata)",
            "uow: alembic=alembic.ini (ini uow_alembic in pyproject.toml)",
            "uow: the tables are built by uow_alembic's migrations; uow_metadata is not used to "
            "build them (turn on uow_check_migrations to compare it with them)",
        ]
    )


def test_an_env_py_that_builds_its_own_engine_from_the_apps_settings_is_served(
    migrated: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It reads the connection, then ignores it, and migrates through an engine of its own on
    the application's database (as env.py files that read the app's settings do): that engine
    is lent the plugin's connection, and the application's database is never written."""
    env_py = migrated.path / "migrations" / "env.py"
    env_py.write_text(
        env_py.read_text().replace(
            'connectable = config.attributes.get("connection", None)',
            'config.attributes.get("connection", None)\n    connectable = None',
        )
    )
    env_py.write_text(
        env_py.read_text()
        .replace(
            "dict(config.get_section(config.config_ini_section) or {})",
            '{"sqlalchemy.url": os.environ["APP_URL"]}',
        )
        .replace(
            "from logging.config import fileConfig",
            "import os\nfrom logging.config import fileConfig",
        )
    )
    monkeypatch.setenv("APP_URL", own_database.url.render_as_string(hide_password=False))

    result = migrated.runpytest_subprocess("-p", "no:xdist", "test_migrated.py::test_rollback")

    result.assert_outcomes(passed=2)
    assert inspect(own_database).get_table_names(schema="public") == []


@pytest.mark.parametrize("template", ["generic", "async"])
def test_the_env_py_alembic_init_generates(
    migrated: pytest.Pytester, own_database: Engine, tmp_path: Path, template: str
) -> None:
    """The env.py that ``alembic init`` or ``alembic init -t async`` writes builds the worker
    namespace unchanged, quietly, with nothing in the configured database's ``public``."""
    from alembic import command
    from alembic.config import Config

    generated = tmp_path / "generated"
    command.init(Config(str(tmp_path / "alembic.ini")), str(generated), template=template)
    env_py = (generated / "env.py").read_text()
    (migrated.path / "migrations" / "env.py").write_text(env_py)

    result = migrated.runpytest_subprocess("-p", "no:xdist", "test_migrated.py::test_rollback")

    result.assert_outcomes(passed=2)
    assert "INFO" not in result.stdout.str() + result.stderr.str()  # the build is quiet
    assert inspect(own_database).get_table_names(schema="public") == []


@pytest.mark.parametrize(
    ("template", "driver", "isolation"),
    [
        ("async", "asyncpg", "schema"),
        ("async", "asyncpg", "database"),
        pytest.param(
            "generic",
            "psycopg",
            "schema",
            marks=pytest.mark.skipif(not SQLALCHEMY_2, reason="psycopg 3 needs SQLAlchemy 2"),
        ),
    ],
)
def test_a_generated_env_py_on_the_apps_own_url_and_driver_is_served(
    migrated: pytest.Pytester,
    own_database: Engine,
    own_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    template: str,
    driver: str,
    isolation: str,
) -> None:
    """A generated env.py that sets ``sqlalchemy.url`` from the application's settings, whose
    driver is not the plugin's (asyncpg for ``alembic init -t async``, psycopg 3): its engine
    connects, and the migrations run on the plugin's connection all the same."""
    from alembic import command
    from alembic.config import Config

    generated = tmp_path / "generated"
    command.init(Config(str(tmp_path / "alembic.ini")), str(generated), template=template)
    env_py = (
        (generated / "env.py")
        .read_text()
        .replace(
            "config = context.config\n",
            "config = context.config\n"
            'config.set_main_option("sqlalchemy.url", os.environ["APP_URL"].replace("%", "%%"))\n',
        )
    )
    (migrated.path / "migrations" / "env.py").write_text(f"import os\n{env_py}")
    app_url = own_database.url.set(drivername=f"postgresql+{driver}")
    monkeypatch.setenv("APP_URL", app_url.render_as_string(hide_password=False))

    result = migrated.runpytest_subprocess(
        "-n", "2", f"--uow-isolation={isolation}", f"--uow-schema-prefix={own_prefix}"
    )

    result.assert_outcomes(passed=6)
    assert inspect(own_database).get_table_names(schema="public") == []


def test_a_build_that_cannot_be_replayed_is_said_and_every_worker_migrates(
    migrated: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revision that writes the name of the schema it runs in into its SQL: replaying that
    in another worker schema would write into the first one."""
    monkeypatch.setenv("NAME_THE_SCHEMA", "1")

    result = migrated.runpytest_subprocess("-n", "2")

    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "uow: uow_alembic: the migrations ran for every worker namespace (and every "
            "recreate), since their first run cannot be replayed: revision 0003 names the "
            "namespace it runs in (COMMENT ON TABLE <namespace>.customers IS 'our customers')"
        ]
    )
    # Two workers, two recreate tests: none of them replayed the first build.
    assert migrations_run(tmp_path) == ["0001", "0002", "0003"] * 4


def test_an_env_py_that_configures_logging_leaves_the_applications_loggers_working(
    migrated: pytest.Pytester,
) -> None:
    """The generated env.py calls fileConfig(alembic.ini), which disables every logger the
    file does not name: here the application's, created when its module was imported."""
    migrated.makepyfile(
        test_logs="""
        import logging

        log = logging.getLogger("shop.orders")


        def test_the_applications_loggers_still_log(caplog, uow_session):
            log.warning("order placed")
            assert caplog.messages == ["order placed"]
        """
    )

    result = migrated.runpytest_subprocess("-p", "no:xdist", "test_logs.py")

    result.assert_outcomes(passed=1)
