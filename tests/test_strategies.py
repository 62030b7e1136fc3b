"""truncate and recreate: real commits that other connections and processes see, emptied (or
rebuilt) afterwards; the uow marker; mixing strategies in any order; teardown order."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import PublicGuard, schemas_named

MODES = [pytest.param(["-n", "2"], id="xdist-2"), pytest.param(["-p", "no:xdist"], id="no-xdist")]

REAL_COMMIT_TESTS = """
import os, subprocess, sys
import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.uow(strategy=os.environ["STRATEGY"])

CHILD = '''
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
with engine.connect() as connection:
    print(connection.execute(text("SELECT reference FROM batches")).scalar_one())
'''

@pytest.mark.parametrize("n", range(4))
def test_commit_is_seen_outside(uow_session, uow_database_url, n):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
    new_id = uow_session.execute(
        text("INSERT INTO batches (reference, qty) VALUES ('seen', 1) RETURNING id")
    ).scalar_one()
    uow_session.commit()
    assert new_id == 1, "identity columns restart for every test"
    other = create_engine(uow_database_url)
    with other.connect() as connection:
        assert connection.execute(text("SELECT reference FROM batches")).scalar_one() == "seen"
    other.dispose()
    child = subprocess.run([sys.executable, "-c", CHILD, uow_database_url],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "seen"
"""


@pytest.mark.parametrize("strategy", ["truncate", "recreate"])
@pytest.mark.parametrize("mode", MODES)
def test_real_commits_are_visible_and_undone(
    project: pytest.Pytester,
    outside: Engine,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    strategy: str,
    mode: list[str],
) -> None:
    monkeypatch.setenv("STRATEGY", strategy)
    project.makepyfile(test_commits=REAL_COMMIT_TESTS)

    result = project.runpytest_subprocess(*mode, f"--uow-schema-prefix={prefix}")

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([f"uow: reset {strategy}: 4 tests, p50 * ms, p95 * ms"])
    assert schemas_named(outside, prefix) == []


CONCURRENCY_TESTS = """
import threading, time
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from app import SqlAlchemyUnitOfWork

def try_to_update(exceptions):
    try:
        with SqlAlchemyUnitOfWork() as uow:  # the app's own factory, REPEATABLE READ
            qty = uow.session.execute(
                text("SELECT qty FROM batches WHERE reference = 'b1'")).scalar_one()
            time.sleep(0.3)
            uow.session.execute(
                text("UPDATE batches SET qty = :q WHERE reference = 'b1'"), {"q": qty - 1})
            uow.commit()
    except OperationalError as error:
        exceptions.append(error)

@pytest.mark.uow(strategy="truncate")
def test_concurrent_updates_to_one_aggregate(uow_session):
    level = uow_session.connection().execute(text("SHOW transaction_isolation")).scalar_one()
    assert level == "read committed", "the plugin's own sessions keep the default"
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('b1', 10)"))
    uow_session.commit()
    exceptions = []
    threads = [threading.Thread(target=try_to_update, args=(exceptions,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(exceptions) == 1
    assert "could not serialize access due to concurrent update" in str(exceptions[0])
    uow_session.expire_all()
    assert uow_session.execute(text("SELECT qty FROM batches")).scalar_one() == 9

def test_rollback_is_still_the_default(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
"""


@pytest.mark.parametrize("mode", MODES)
def test_concurrency_test_passes_under_truncate(project: pytest.Pytester, mode: list[str]) -> None:
    project.makepyfile(test_concurrency=CONCURRENCY_TESTS)

    result = project.runpytest_subprocess(*mode)

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["uow: reset truncate: 1 tests*"])


SCHEMA_CHANGING_TESTS = """
import pytest
from sqlalchemy import text

@pytest.mark.uow(strategy="recreate")
def test_1_drops_a_table(uow_connection):
    uow_connection.execute(text("DROP TABLE batches"))
    uow_connection.commit()

@pytest.mark.uow(strategy="recreate")
def test_2_alters_a_table(uow_connection):
    uow_connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('x', 1)"))
    uow_connection.execute(text("ALTER TABLE batches DROP COLUMN qty"))
    uow_connection.commit()

def test_3_the_table_is_back(uow_session):
    columns = uow_session.execute(text(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'batches' "
        "AND table_schema = current_schema()")).scalar_one()
    assert columns == 3
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
    mark = uow_session.execute(text(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
        "WHERE nspname = current_schema()")).scalar_one()
    assert mark.startswith("pytest-uow run="), "the reaper must still know the rebuilt schema"
"""


def test_recreate_survives_schema_changes(project: pytest.Pytester) -> None:
    project.makepyfile(test_schema_changes=SCHEMA_CHANGING_TESTS)

    result = project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=3)


MIXED_TESTS = """
import pytest
from sqlalchemy import text
from app import SqlAlchemyUnitOfWork, add_batch, count_batches

def write_and_check(factory):
    assert count_batches(SqlAlchemyUnitOfWork(factory)) == 0
    add_batch("ref", 1, SqlAlchemyUnitOfWork(factory))
    assert count_batches(SqlAlchemyUnitOfWork(factory)) == 1

@pytest.mark.parametrize("n", range(6))
def test_rollback(uow_session_factory, n):
    write_and_check(uow_session_factory)

@pytest.mark.uow(strategy="truncate")
@pytest.mark.parametrize("n", range(6))
def test_truncate(uow_session_factory, n):
    write_and_check(uow_session_factory)

@pytest.mark.uow(strategy="recreate")
@pytest.mark.parametrize("n", range(3))
def test_recreate(uow_session_factory, n):
    write_and_check(uow_session_factory)

@pytest.mark.uow(strategy="truncate")
class TestMarkedClass:
    def test_app_factory_commits_for_real(self, uow_engine):
        add_batch("ref", 1, SqlAlchemyUnitOfWork())
        with uow_engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM batches")).scalar_one() == 1

    def test_marker_alone_cleans_up(self, uow_engine):
        with uow_engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
            connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('e', 1)"))
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mixed_strategies_in_random_order_leave_nothing(
    project: pytest.Pytester, outside: Engine, public_guard: PublicGuard, prefix: str, seed: int
) -> None:
    project.makepyfile(test_mixed=MIXED_TESTS)
    before = public_guard.fingerprint()

    result = project.runpytest_subprocess(
        "-n",
        "2",
        f"--randomly-seed={seed}",
        f"--uow-schema-prefix={prefix}",
        "--uow-keep",
    )

    result.assert_outcomes(passed=17)
    kept = schemas_named(outside, prefix)
    assert len(kept) == 2
    with outside.begin() as connection:
        for schema in kept:
            rows = connection.execute(text(f"SELECT count(*) FROM {schema}.batches")).scalar_one()
            assert rows == 0, f"{schema} holds rows after the run"
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    assert public_guard.fingerprint() == before


TEARDOWN_ORDER_TESTS = """
import threading, queue
import pytest
from sqlalchemy import text

@pytest.fixture
def consumer(uow_engine):
    '''A background consumer that writes what it has left when it is stopped.'''
    stop = threading.Event()
    def run():
        stop.wait()
        with uow_engine.begin() as connection:
            connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('late', 1)"))
    thread = threading.Thread(target=run)
    thread.start()
    yield
    stop.set()
    thread.join()

def test_1_with_a_consumer(consumer, uow_session):
    pass

def test_2_starts_empty(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
"""


def test_reset_runs_after_the_tests_own_fixtures(project: pytest.Pytester) -> None:
    """The consumer is requested before uow_session, so it would be stopped after the reset
    if the reset were not deferred to the very end. No sessionmakers to re-bind here: they
    would make every test's isolation start first anyway."""
    project.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
    )
    project.makepyfile(test_order=TEARDOWN_ORDER_TESTS)

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", "--uow-strategy=truncate"
    )

    result.assert_outcomes(passed=2)


OPEN_SESSION_TESTS = """
from sqlalchemy import text

def test_1_leaves_a_session_in_a_transaction(uow_session_factory):
    session = uow_session_factory()
    session.execute(text("INSERT INTO batches (reference, qty) VALUES ('a', 1)"))
    session.commit()
    session.execute(text("UPDATE batches SET qty = 2"))  # row lock, never committed

def test_2_starts_empty(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
"""


def test_the_plugins_sessions_are_closed_before_the_reset(project: pytest.Pytester) -> None:
    project.makepyfile(test_open_session=OPEN_SESSION_TESTS)

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", "--uow-strategy=truncate"
    )

    result.assert_outcomes(passed=2)


BAD_MARKERS = """
import pytest

@pytest.mark.uow(strategy="fast")
def test_unknown_strategy():
    pass

@pytest.mark.uow(stratgy="truncate")
def test_unknown_keyword():
    pass
"""


def test_marker_is_validated_and_registered(project: pytest.Pytester) -> None:
    project.makepyfile(test_bad=BAD_MARKERS)

    result = project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly", "--strict-markers")

    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.uow on test_bad.py::test_unknown_strategy: unknown strategy 'fast'; "
            "choose one of: rollback, truncate, recreate",
            "@pytest.mark.uow on test_bad.py::test_unknown_keyword: unexpected stratgy; "
            "use @pytest.mark.uow(strategy=...)",
        ]
    )
    markers = project.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.uow(strategy='rollback'): *truncate*recreate*"])


MARKER_ALONE_TESTS = """
import pytest
from sqlalchemy import text

@pytest.mark.uow(strategy="truncate")
def test_1_marker_and_engine_only(uow_engine):
    with uow_engine.begin() as connection:
        connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('e', 1)"))

def test_2_starts_empty(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
"""


def test_marked_test_using_only_the_engine_is_cleaned_up(project: pytest.Pytester) -> None:
    """DESIGN: the marker alone earns a test its reset. (No sessionmakers configured, since
    they would give every test its reset anyway.)"""
    project.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
    )
    project.makepyfile(test_marker_alone=MARKER_ALONE_TESTS)

    result = project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=2)
