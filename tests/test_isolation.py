"""Each test starts from empty tables, whatever the application committed, in parallel or not;
nothing is left behind and ``public`` is untouched."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PublicGuard, schemas_named

MODES = [pytest.param(["-n", "2"], id="xdist-2"), pytest.param(["-p", "no:xdist"], id="no-xdist")]

COMMITTING_TESTS = """
import pytest
from app import SqlAlchemyUnitOfWork, add_batch, count_batches

@pytest.mark.parametrize("n", range(8))
def test_default_factory_commits(n):
    assert count_batches(SqlAlchemyUnitOfWork()) == 0
    add_batch("same-ref", 10, SqlAlchemyUnitOfWork())
    assert count_batches(SqlAlchemyUnitOfWork()) == 1

@pytest.mark.parametrize("n", range(8))
def test_injected_factory_commits(uow_session_factory, n):
    uow = SqlAlchemyUnitOfWork(uow_session_factory)
    assert count_batches(uow) == 0
    add_batch("same-ref", 10, uow)
    assert count_batches(uow) == 1
"""


@pytest.mark.parametrize("mode", MODES)
def test_committed_rows_vanish_and_nothing_is_left(
    project: pytest.Pytester,
    outside: Engine,
    public_guard: PublicGuard,
    prefix: str,
    mode: list[str],
) -> None:
    project.makepyfile(test_commits=COMMITTING_TESTS)
    before = public_guard.fingerprint()

    result = project.runpytest_subprocess(*mode, f"--uow-schema-prefix={prefix}")

    result.assert_outcomes(passed=16)
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before


SESSION_BEHAVIOUR_TESTS = """
import threading
from sqlalchemy import func, select, text
from app import batches

def count(session):
    return session.execute(select(func.count()).select_from(batches)).scalar_one()

def test_rollback_returns_to_last_commit(uow_session_factory):
    session = uow_session_factory()
    session.execute(batches.insert().values(reference="kept", qty=1))
    session.commit()
    session.execute(batches.insert().values(reference="undone", qty=1))
    session.rollback()
    assert session.execute(select(batches.c.reference)).scalars().all() == ["kept"]

def test_several_sessions_from_one_factory_see_each_others_commits(uow_session_factory):
    first, second = uow_session_factory(), uow_session_factory()
    first.execute(batches.insert().values(reference="a", qty=1))
    first.commit()
    assert count(second) == 1
    second.execute(batches.insert().values(reference="b", qty=1))
    second.commit()
    assert count(first) == 2

def test_begin_nested_inside_the_test(uow_session):
    uow_session.execute(batches.insert().values(reference="outer", qty=1))
    nested = uow_session.begin_nested()
    uow_session.execute(batches.insert().values(reference="inner", qty=1))
    nested.rollback()
    uow_session.commit()
    assert uow_session.execute(select(batches.c.reference)).scalars().all() == ["outer"]

def test_session_used_from_another_thread_while_the_test_waits(uow_session_factory):
    def serve():
        session = uow_session_factory()
        session.execute(batches.insert().values(reference="from-thread", qty=1))
        session.commit()
        session.close()
    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    assert count(uow_session_factory()) == 1

def test_connection_and_session_share_the_transaction(uow_connection, uow_session, uow_schema):
    uow_session.execute(batches.insert().values(reference="s", qty=1))
    uow_session.commit()
    assert uow_connection.execute(select(func.count()).select_from(batches)).scalar_one() == 1
    assert uow_connection.execute(text("SHOW search_path")).scalar_one() == uow_schema

def test_every_test_starts_empty(uow_session):
    assert count(uow_session) == 0
"""


@pytest.mark.parametrize("mode", MODES)
def test_application_transactions_behave_as_in_production(
    project: pytest.Pytester, outside: Engine, prefix: str, mode: list[str]
) -> None:
    project.makepyfile(test_sessions=SESSION_BEHAVIOUR_TESTS)

    result = project.runpytest_subprocess(*mode, f"--uow-schema-prefix={prefix}")

    result.assert_outcomes(passed=6)
    assert schemas_named(outside, prefix) == []


SCHEMA_REPORTING_TESTS = """
import json, os, pytest
from sqlalchemy import create_engine, text

@pytest.mark.parametrize("n", range(6))
def test_report(uow_schema, uow_database_url, n, tmp_path_factory):
    plain = create_engine(os.environ["UOW_DATABASE_URL"])
    with plain.connect() as connection:
        exists = connection.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": uow_schema}
        ).scalar_one()
    plain.dispose()
    assert exists == 1
    out = os.environ["REPORT_DIR"]
    with open(os.path.join(out, f"{os.getpid()}-{n}.json"), "w") as f:
        json.dump({"schema": uow_schema, "url": uow_database_url}, f)
"""


def test_each_worker_has_its_own_schema_during_the_run(
    project: pytest.Pytester, outside: Engine, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    report_dir = project.mkdir("reports")
    monkeypatch.setenv("REPORT_DIR", str(report_dir))
    project.makepyfile(test_report=SCHEMA_REPORTING_TESTS)

    result = project.runpytest_subprocess(
        "-n", "2", "-p", "no:randomly", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=6)
    reports = [json.loads(p.read_text()) for p in report_dir.iterdir()]
    schemas = {report["schema"] for report in reports}
    assert len(schemas) == 2
    runs = {
        re.fullmatch(rf"{prefix}_([0-9a-f]{{8}})_gw[01]", s).group(1)  # type: ignore[union-attr]
        for s in schemas
    }
    assert len(runs) == 1, "both workers belong to one run"
    assert all(f"search_path%3D{r['schema']}" in r["url"] for r in reports)
    assert schemas_named(outside, prefix) == []


SLOW_COMMITTING_TESTS = """
import time, pytest
from app import SqlAlchemyUnitOfWork, add_batch, count_batches

@pytest.mark.parametrize("n", range(6))
def test_commit_and_linger(n):
    assert count_batches(SqlAlchemyUnitOfWork()) == 0
    add_batch("shared-ref", 1, SqlAlchemyUnitOfWork())
    time.sleep(0.2)
    assert count_batches(SqlAlchemyUnitOfWork()) == 1
"""


def test_three_runs_at_once_do_not_collide(
    project: pytest.Pytester, outside: Engine, public_guard: PublicGuard, prefix: str
) -> None:
    project.makepyfile(test_slow=SLOW_COMMITTING_TESTS)
    before = public_guard.fingerprint()
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-n",
        "2",
        "-p",
        "no:randomly",
        f"--uow-schema-prefix={prefix}",
        "-q",
    ]
    # Three CI jobs sharing one server, each with two workers.
    runs = [
        subprocess.Popen(
            command, cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert all("6 passed" in output for output in outputs), outputs
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before
