"""Schemas left by killed runs are reaped at the next start, reported in one line; schemas of
live runs, and schemas that are not ours whatever their name, are never touched."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import PublicGuard, schemas_named, start_lingering_run


def _start_lingering_run(
    project: pytest.Pytester, report_dir: Path, prefix: str, mode: list[str]
) -> subprocess.Popen[bytes]:
    expected = 2 if "-n" in mode else 1  # schemas: one per worker
    args = [*mode, f"--uow-schema-prefix={prefix}"]
    return start_lingering_run(project, report_dir, args, expected)


@pytest.fixture
def lingering_project(
    project: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> Path:
    report_dir = project.mkdir("reports")
    monkeypatch.setenv("REPORT_DIR", str(report_dir))
    project.copy_example("reaping/test_linger.py")
    return report_dir


@pytest.mark.parametrize("mode", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist-2", "no-xdist"])
def test_schemas_of_a_killed_run_are_reaped_by_the_next(
    project: pytest.Pytester,
    lingering_project: Path,
    own_database: Engine,
    prefix: str,
    mode: list[str],
) -> None:
    outside = own_database
    guard = PublicGuard(outside, "guard")
    with outside.begin() as connection:
        connection.execute(text("CREATE TABLE public.guard (id int PRIMARY KEY, note text)"))
        connection.execute(text("INSERT INTO public.guard VALUES (1, 'one'), (2, 'two')"))
    before = guard.fingerprint()
    killed = _start_lingering_run(project, lingering_project, prefix, mode)
    os.killpg(killed.pid, signal.SIGKILL)  # kill -9 of pytest and its workers, mid-test
    killed.wait()
    left = schemas_named(outside, prefix)
    assert len(left) == len(list(lingering_project.iterdir())), "the killed run left its schemas"
    for report in lingering_project.iterdir():
        report.unlink()

    result = project.runpytest_subprocess("-p", "no:xdist", f"--uow-schema-prefix={prefix}")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [f"uow: reaped {len(left)} worker schema(s) left by runs that died: {', '.join(left)}"]
    )
    assert schemas_named(outside, prefix) == []
    assert guard.fingerprint() == before


def test_live_runs_and_schemas_that_are_not_ours_are_never_reaped(
    project: pytest.Pytester, lingering_project: Path, own_database: Engine, prefix: str
) -> None:
    outside = own_database
    impostor = f"{prefix}_deadbeef_gw0"  # our naming, but not created by pytest-uow
    kept = f"{prefix}_deadbeef_gw1"  # kept by an earlier run with --uow-keep, for inspection
    with outside.begin() as connection:
        for schema in (impostor, kept):
            connection.execute(text(f"CREATE SCHEMA {schema}"))
            connection.execute(text(f"CREATE TABLE {schema}.precious (id int)"))
            connection.execute(text(f"INSERT INTO {schema}.precious VALUES (1), (2)"))
        connection.execute(
            text(f"COMMENT ON SCHEMA {kept} IS 'pytest-uow kept: run=deadbeef worker=gw1'")
        )
    live = _start_lingering_run(project, lingering_project, prefix, ["-p", "no:xdist"])
    try:
        live_schema = next(lingering_project.iterdir()).read_text()

        result = project.runpytest_subprocess("-p", "no:xdist", f"--uow-schema-prefix={prefix}")

        result.assert_outcomes(passed=2)
        assert "uow: reaped" not in result.stdout.str()
        assert set(schemas_named(outside, prefix)) == {impostor, kept, live_schema}
    finally:
        os.killpg(live.pid, signal.SIGKILL)
        live.wait()
    with outside.begin() as connection:
        rows = [
            connection.execute(text(f"SELECT count(*) FROM {schema}.precious")).scalar_one()
            for schema in (impostor, kept)
        ]
        for schema in (impostor, kept, live_schema):
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    assert rows == [2, 2]


def test_a_crashed_and_restarted_worker_leaves_no_schema(
    project: pytest.Pytester, own_database: Engine, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPORT_DIR", str(project.path))
    project.copy_example("reaping/test_crash.py")

    result = project.runpytest_subprocess(
        "-n", "2", "-p", "no:randomly", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*crashed while running*", "uow: reaped 1 worker schema(s)*"])
    assert schemas_named(own_database, prefix) == []
