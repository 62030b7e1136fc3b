"""Every engine joins the test: an application's engines on the configured database, named
nowhere, reach the worker namespace and, under ``rollback``, the test's transaction; the
configured database's own tables are never written; other databases are left alone. The suite's
own conftest creates and drops the tables (for the session, and around single tests), as suites
do before they adopt the plugin: in every strategy."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from tests.conftest import databases_named, schemas_named

ROUTING_INI = (
    '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "webapp:Base"\n'
    'asyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"\n'
)
DEVELOPER_ROW = "developer@example.com"


@pytest.fixture
def routed_project(
    project: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """The routing app, its URL the configured database's (as a developer's settings have it),
    that database's own ``users`` table holding a developer's row."""
    url = own_database.url
    monkeypatch.setenv("APP_URL", url.render_as_string(hide_password=False))
    monkeypatch.setenv(
        "ASYNC_APP_URL", url.set(drivername="postgresql+asyncpg").render_as_string(False)
    )
    with own_database.begin() as connection:
        connection.execute(
            text("CREATE TABLE users (id serial PRIMARY KEY, email varchar(100) UNIQUE)")
        )
        connection.execute(text("INSERT INTO users (email) VALUES (:e)"), {"e": DEVELOPER_ROW})
    project.makepyprojecttoml(ROUTING_INI)
    project.copy_example("routing")
    return project


def _untouched(database: Engine) -> None:
    with database.connect() as connection:
        rows = connection.execute(text("SELECT email FROM public.users")).scalars().all()
    assert rows == [DEVELOPER_ROW]
    assert schemas_named(database, "uow") == []


@pytest.mark.parametrize("isolation", ["schema", "database"])
@pytest.mark.parametrize("strategy", ["rollback", "truncate", "recreate"])
def test_an_apps_own_engines_join_the_test_with_workers(
    routed_project: pytest.Pytester,
    own_database: Engine,
    own_prefix: str,
    isolation: str,
    strategy: str,
) -> None:
    # A worker database that a reset replaces (recreate, or truncate after a fixture dropped
    # the tables) takes the connection of a session that spans the tests with it: the guide says
    # so; those three tests run in every other combination.
    dropped_under_it = isolation == "database" and strategy != "rollback"
    result = routed_project.runpytest_subprocess(
        "-n",
        "2",
        "-p",
        "randomly",
        f"--uow-isolation={isolation}",
        f"--uow-strategy={strategy}",
        f"--uow-schema-prefix={own_prefix}",
        *(["--deselect", "test_shared_session.py"] if dropped_under_it else []),
    )

    result.assert_outcomes(passed=15 if dropped_under_it else 18)
    assert "UowWarning" not in result.stdout.str()
    _untouched(own_database)
    assert schemas_named(own_database, own_prefix) == []
    worker_databases = [
        name
        for name, (_, template, _, _) in databases_named(own_database, own_prefix).items()
        if not template  # templates stay for the next run, by design
    ]
    assert worker_databases == []


def test_an_apps_own_engines_join_the_test_without_xdist(
    routed_project: pytest.Pytester, own_database: Engine
) -> None:
    result = routed_project.runpytest_subprocess("-p", "no:xdist", "--uow-check-leaks")

    result.assert_outcomes(passed=18)
    _untouched(own_database)


def test_an_engine_on_another_database_is_left_alone(
    routed_project: pytest.Pytester, own_database: Engine, outside: Engine
) -> None:
    """The suite's own database on the same server is not the configured one: its writes stay."""
    other = f"{own_database.url.database}_other"
    with outside.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"CREATE DATABASE {other}"))
    other_url = own_database.url.set(database=other)
    routed_project.makepyfile(
        test_other=f"""
        from sqlalchemy import create_engine, text

        def test_writes_there_are_the_suites():
            engine = create_engine({other_url.render_as_string(False)!r})
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE kept (note text)"))
                connection.execute(text("INSERT INTO kept VALUES ('stays')"))
                database = connection.execute(text("SELECT current_database()")).scalar_one()
            assert database == {other!r}
            engine.dispose()
        """
    )
    try:
        result = routed_project.runpytest_subprocess("-p", "no:xdist", "test_other.py")
        result.assert_outcomes(passed=1)
        kept = create_engine(other_url, poolclass=NullPool)
        with kept.connect() as connection:
            assert connection.execute(text("SELECT note FROM kept")).scalars().all() == ["stays"]
        kept.dispose()
    finally:
        with outside.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"DROP DATABASE {other} WITH (FORCE)"))


def test_an_autocommit_engine_commits_for_real_in_the_namespace(
    routed_project: pytest.Pytester, own_database: Engine
) -> None:
    """What no transaction can hold (CREATE DATABASE) runs; asking a connection that shares the
    test's transaction for autocommit fails the test in one line."""
    routed_project.makepyfile(
        test_autocommit="""
        import os
        from sqlalchemy import create_engine, text

        def test_an_autocommit_engine_creates_a_database():
            engine = create_engine(os.environ["APP_URL"], isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.execute(text("CREATE DATABASE own_made_by_test"))
                connection.execute(text("DROP DATABASE own_made_by_test"))
            engine.dispose()

        def test_autocommit_asked_of_a_joined_connection():
            engine = create_engine(os.environ["APP_URL"])
            with engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT")
        """
    )

    result = routed_project.runpytest_subprocess("-p", "no:xdist", "test_autocommit.py")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*UowError: an application connection asked for AUTOCOMMIT while it shares the test's "
            "transaction (the rollback strategy)*"
        ]
    )
    _untouched(own_database)
