"""Extensions in schema mode: migrations and ``uow_metadata`` DDL events that create and use
``uuid-ossp``, ``pgcrypto``, ``citext`` and ``pg_trgm`` build every worker schema, whether the
extension already lives in ``public`` (a migrated developer database), nowhere yet, or was
installed by another worker of the same run. ``public`` is never on a worker's ``search_path``;
what the plugin installed goes with the last worker schema, what the user installed stays."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import ALEMBIC_INI, autocommit, schemas_named

EXTENSIONS = ("uuid-ossp", "pgcrypto", "citext", "pg_trgm")
MOVED_HERE = "pytest_uow_extensions"  # where extensions the builds installed are moved


def installed(engine: Engine) -> dict[str, str]:
    """Extension -> the schema it lives in (plpgsql aside)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT extname, extnamespace::regnamespace::text FROM pg_extension "
                "WHERE extname <> 'plpgsql'"
            )
        ).all()
    return dict(rows)


def schema_exists(engine: Engine, name: str) -> bool:
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": name}
        )
        return found.first() is not None


def install_in_public(database: Engine) -> None:
    """A migrated developer database: the extensions, and a table of the developer's, with its
    row, in ``public``."""
    autocommit(
        database,
        *(f'CREATE EXTENSION "{name}" SCHEMA public' for name in EXTENSIONS),
        "CREATE TABLE public.users (id serial PRIMARY KEY, email text NOT NULL)",
        "INSERT INTO public.users (email) VALUES ('developer@example.org')",
    )


def public_users(database: Engine) -> list[str]:
    with database.connect() as connection:
        return list(connection.execute(text("SELECT email FROM public.users")).scalars())


@pytest.fixture
def with_extensions(migrated: pytest.Pytester) -> pytest.Pytester:
    """``migrated``'s project, its migrations replaced by one that creates and uses the four
    extensions (and drops them in its downgrade), and its tests by tests of each extension."""
    versions = migrated.path / "migrations" / "versions"
    for script in versions.glob("*.py"):
        script.unlink()
    (migrated.path / "test_migrated.py").unlink()
    migrated.makepyprojecttoml(ALEMBIC_INI + 'uow_metadata = "models:metadata"\n')
    migrated.copy_example("extensions/0001_extensions.py").rename(versions / "0001_extensions.py")
    migrated.copy_example("extensions/models.py")
    migrated.copy_example("extensions/test_extensions.py")
    return migrated


@pytest.mark.parametrize("where", ["in public", "nowhere yet"])
def test_migrations_that_create_and_use_extensions_build_every_worker_schema(
    with_extensions: pytest.Pytester, own_database: Engine, own_prefix: str, where: str
) -> None:
    """Two workers in random order, each strategy in turn; the migration checks downgrade
    (``DROP EXTENSION``) and upgrade again in a scratch schema."""
    if where == "in public":
        install_in_public(own_database)
    before = installed(own_database)

    result = with_extensions.runpytest_subprocess(
        "-n",
        "2",
        "-p",
        "randomly",
        f"--uow-schema-prefix={own_prefix}",
        "--uow-check-migrations",
    )

    result.assert_outcomes(passed=6 + 4)  # the tests, and four migration checks
    assert installed(own_database) == before, "the user's extensions stay, the plugin's go"
    assert not schema_exists(own_database, MOVED_HERE)
    assert schemas_named(own_database, own_prefix) == []
    if where == "in public":
        assert public_users(own_database) == ["developer@example.org"]


def test_models_whose_ddl_events_create_extensions_build_without_xdist(
    with_extensions: pytest.Pytester, own_database: Engine
) -> None:
    install_in_public(own_database)
    with_extensions.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "models:metadata"\n'
    )

    result = with_extensions.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(passed=6)
    assert set(installed(own_database).values()) == {"public"}
    assert public_users(own_database) == ["developer@example.org"]


def test_an_extension_another_run_still_uses_stays_until_that_run_ends(
    with_extensions: pytest.Pytester, own_database: Engine
) -> None:
    """The last worker schema of any run takes the moved extensions with it; while another
    run's worker schema exists (its lease held, as a live run holds it), they stay."""
    other = "uow_00000000_gw9"
    autocommit(
        own_database,
        f"CREATE SCHEMA {other}",
        f"COMMENT ON SCHEMA {other} IS 'pytest-uow run=00000000 worker=gw9'",
    )
    with own_database.connect() as lease:
        lease.execute(text(f"SELECT pg_advisory_lock(hashtextextended('{other}', 0))"))
        lease.commit()
        first = with_extensions.runpytest_subprocess("-p", "no:xdist")
        left_by_first = installed(own_database)
    autocommit(own_database, f"DROP SCHEMA {other}")
    second = with_extensions.runpytest_subprocess("-p", "no:xdist")

    first.assert_outcomes(passed=6)
    second.assert_outcomes(passed=6)
    assert left_by_first == dict.fromkeys(EXTENSIONS, MOVED_HERE)
    assert installed(own_database) == {}
    assert not schema_exists(own_database, MOVED_HERE)


def test_a_failing_migration_names_its_revision_and_statement(
    with_extensions: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_in_public(own_database)
    monkeypatch.setenv("BREAK_EXTENSION_MIGRATION", "1")

    result = with_extensions.runpytest_subprocess("-p", "no:xdist", "-k", "rollback and 0")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-uow could not create worker schema uow_*_main on *: uow_alembic: revision "
            "0001 failed: UndefinedFunction: function uuid_generate_v99() does not exist, in "
            "INSERT INTO users (email, name) VALUES (uuid_generate_v99(), 'never')"
        ]
    )
    assert "the model or its DDL" not in result.stdout.str()
    assert set(installed(own_database).values()) == {"public"}
