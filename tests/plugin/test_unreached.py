"""Nothing configured goes silently unused: an object ``uow_sessionmakers`` names that no test
reached is a warning at the end of the run, gathered from every worker, and so is a run whose
tests reached no worker namespace at all, naming where their connections went; a suite that
reaches everything gets none. An ``Engine`` may be named too: it is then routed to the test whatever
database its URL names (the app's own, which nothing listens on here)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PROJECT_INI

UNREACHED = (
    "uow: WARNING: app:{name} (ini uow_sessionmakers in pyproject.toml) was not reached by any "
    "test: none of its sessions began (an engine: connected) while a test ran. The suite may "
    "replace it with its own (a dependency override, a fixture's sessionmaker): delete that, "
    "or the name"
)

THROUGH_THE_UOW = """
import pytest
from app import SqlAlchemyUnitOfWork, add_batch, count_batches

@pytest.mark.parametrize("n", range(4))
def test_through_the_unit_of_work(n):
    add_batch(f"b{n}", 1, SqlAlchemyUnitOfWork())
    assert count_batches(SqlAlchemyUnitOfWork()) == 1
"""

# The suite's own fixture isolates the tests with a sessionmaker of its own, on the worker's
# URL: the named factory is never called.
OWN_FACTORY = """
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from app import SqlAlchemyUnitOfWork, add_batch, count_batches

@pytest.fixture
def uow(uow_database_url):
    engine = create_engine(uow_database_url)
    yield SqlAlchemyUnitOfWork(sessionmaker(bind=engine))
    engine.dispose()

@pytest.mark.parametrize("n", range(4))
def test_with_the_suites_own_factory(uow, n):
    add_batch(f"b{n}", 1, uow)
"""

# The suite's own fixtures isolate it in a database of their own, which they build and drop:
# no test reaches a worker namespace.
OWN_DATABASE = """
import os

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from app import SqlAlchemyUnitOfWork, add_batch, count_batches, metadata

@pytest.fixture(scope="session")
def engine():
    engine = create_engine(make_url(os.environ["SUITE_URL"]))
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)
    engine.dispose()

@pytest.fixture
def uow(engine):
    connection = engine.connect()
    transaction = connection.begin()
    yield SqlAlchemyUnitOfWork(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    )
    transaction.rollback()
    connection.close()

@pytest.mark.parametrize("n", range(4))
def test_in_the_suites_own_database(uow, n):
    add_batch(f"b{n}", 1, uow)
    assert count_batches(uow) == 1
"""
IDLE = (
    "uow: WARNING: 4 tests ran, and none reached a worker namespace: their connections went to "
    "database {database} on *:* instead; if the suite's own fixtures isolate it there (a "
    "database per worker, a dependency override), delete them to let pytest-uow do it"
)


@pytest.mark.parametrize("xdist", [["-p", "no:xdist"], ["-n", "2"]], ids=["n0", "n2"])
def test_a_named_factory_no_test_reached_is_a_warning_and_a_reached_one_is_not(
    project: pytest.Pytester, xdist: list[str]
) -> None:
    project.makepyprojecttoml(
        PROJECT_INI.replace(
            'uow_sessionmakers = ["app:DEFAULT_SESSION_FACTORY"]',
            'uow_sessionmakers = ["app:DEFAULT_SESSION_FACTORY", "app:UNUSED_FACTORY"]',
        )
    )
    app = project.path / "app.py"
    app.write_text(app.read_text() + "\nUNUSED_FACTORY = sessionmaker(bind=engine)\n")
    project.makepyfile(test_uow=THROUGH_THE_UOW)

    result = project.runpytest_subprocess(*xdist)

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([UNREACHED.format(name="UNUSED_FACTORY")])
    assert "DEFAULT_SESSION_FACTORY (ini" not in result.stdout.str()


def test_a_suite_whose_own_fixtures_isolate_it_is_told_the_named_factory_went_unused(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_own=OWN_FACTORY)

    result = project.runpytest_subprocess("-n", "2")

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([UNREACHED.format(name="DEFAULT_SESSION_FACTORY")])


def test_a_suite_whose_own_fixtures_use_a_database_of_their_own_is_told_where_tests_went(
    project: pytest.Pytester,
    own_database: Engine,
    server_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The plugin is configured with the usual database; the suite uses a database of its own.
    monkeypatch.setenv("UOW_DATABASE_URL", server_url)
    monkeypatch.setenv("SUITE_URL", own_database.url.render_as_string(hide_password=False))
    project.makepyfile(test_own=OWN_DATABASE)

    # One worker runs the module, the other nothing: the controller gathers both.
    result = project.runpytest_subprocess("-n", "2", "--dist=loadfile")

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([IDLE.format(database=own_database.url.database)])
    result.stdout.fnmatch_lines([UNREACHED.format(name="DEFAULT_SESSION_FACTORY")])


def test_a_suite_that_reaches_everything_prints_no_warning(project: pytest.Pytester) -> None:
    project.makepyfile(test_uow=THROUGH_THE_UOW)

    result = project.runpytest_subprocess("-n", "2")

    result.assert_outcomes(passed=4)
    assert "WARNING" not in result.stdout.str()


@pytest.mark.parametrize("strategy", ["rollback", "truncate"])
def test_a_named_engine_on_the_apps_own_database_joins_the_test(
    project: pytest.Pytester, strategy: str
) -> None:
    """``app.engine`` names a database nothing listens on (port 1): named, it is routed."""
    project.makepyprojecttoml(
        PROJECT_INI.replace("app:DEFAULT_SESSION_FACTORY", "app:engine")
        + f'uow_strategy = "{strategy}"\n'
    )
    project.makepyfile(
        test_engine="""
        import pytest
        from sqlalchemy import func, select
        from app import batches, engine

        @pytest.mark.parametrize("n", range(3))
        def test_through_the_apps_engine(n):
            with engine.begin() as connection:
                connection.execute(batches.insert().values(reference=f"e{n}", qty=1))
            with engine.connect() as connection:
                count = connection.execute(select(func.count()).select_from(batches))
                assert count.scalar_one() == 1
        """
    )

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(passed=3)
    assert "WARNING" not in result.stdout.str()
