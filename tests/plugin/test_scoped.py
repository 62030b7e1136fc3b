"""Data that lives as long as its fixture: rows a class-, module- or session-scoped fixture
writes (through the application's scoped_session and sessionmaker, a routed engine's own
transaction, an engine of another driver, factory_boy, polyfactory, the plugin's
``uow_scoped_session``) are seen by every
test in its scope and gone when it is finalized; each test's own rows go after it; under
``truncate`` and ``recreate`` the scope's rows are part of the baseline. The inner tests
assert what each one sees, in random order."""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import Engine

SCOPED_INI = '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "warehouse:metadata"\n'
# factory_boy with polyfactory, and psycopg (3), need SQLAlchemy 2: two modules skip on 1.4.
INNER_OUTCOMES = (
    {"passed": 23} if not sqlalchemy.__version__.startswith("1.") else {"passed": 17, "skipped": 2}
)


@pytest.mark.parametrize(
    ("args", "isolation"),
    [
        (["-p", "no:xdist"], "schema"),
        (["-n", "2"], "schema"),
        (["-n", "2"], "database"),
        (["-p", "no:xdist"], "database"),
    ],
    ids=["n0-schema", "n2-schema", "n2-database", "n0-database"],
)
def test_scoped_rows_live_as_long_as_their_fixture(
    project: pytest.Pytester, own_database: Engine, own_prefix: str, args: list[str], isolation: str
) -> None:
    project.copy_example("scoped")
    project.makepyprojecttoml(
        SCOPED_INI + f'uow_schema_prefix = "{own_prefix}"\nuow_isolation = "{isolation}"\n'
    )

    result = project.runpytest_subprocess(
        *args, "-p", "randomly", "-W", "error::pytest_uow.errors.UowWarning"
    )

    result.assert_outcomes(**INNER_OUTCOMES)
    assert "does not exist" not in result.stdout.str()
    with own_database.connect() as connection:
        left = connection.execute(
            text(
                "SELECT count(*) FROM pg_tables WHERE tablename = 'users' "
                "OR schemaname LIKE :prefix"
            ),
            {"prefix": f"{own_prefix}%"},
        ).scalar_one()
    assert left == 0  # no table in the user's database, no worker schema left


def test_a_module_fixture_writing_through_an_async_session_is_refused(
    project: pytest.Pytester, own_prefix: str
) -> None:
    """Under rollback, the test's async connection is opened on the test's loop and rolled back
    after the test: rows a module-scoped async fixture writes cannot outlive the test, so its
    set-up fails in one line instead of its rows vanishing after the first test."""
    project.copy_example("scoped/warehouse.py")
    project.makepyprojecttoml(
        SCOPED_INI + f'uow_schema_prefix = "{own_prefix}"\nasyncio_mode = "auto"\n'
    )
    project.makepyfile(
        test_async_fixture="""
        import pytest
        import pytest_asyncio
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine
        from warehouse import URL

        engine = create_async_engine(URL.set(drivername="postgresql+asyncpg"))

        @pytest_asyncio.fixture(scope="module", loop_scope="module")
        async def user():
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO users (email) VALUES ('a@x')"))

        @pytest.mark.asyncio(loop_scope="module")
        async def test_uses_it(user):
            pass
        """
    )

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-uow: the module-scoped fixture 'user' used the database through asyncpg "
            "(async), whose connection of the test keeps rows only as long as the test*"
        ]
    )


def test_a_failed_tests_report_names_the_fixtures_whose_rows_it_saw(
    project: pytest.Pytester, own_prefix: str
) -> None:
    project.copy_example("scoped/warehouse.py")
    project.makepyprojecttoml(SCOPED_INI + f'uow_schema_prefix = "{own_prefix}"\n')
    project.makepyfile(
        test_report="""
        import pytest
        from warehouse import Session, User

        @pytest.fixture(scope="module")
        def user():
            Session.add(User(email="r@example.com"))
            Session.commit()

        def test_fails(user):
            assert False
        """
    )

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["rows of wider-scoped fixtures, seen by the test and kept for their scope: user (module)"]
    )
