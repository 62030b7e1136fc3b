"""Every test covered: under ``rollback``, what a test commits through a connection outside
its transaction (a libpq connection of its own, ``uow_engine``, a child process) is found from
the notifications the namespace's tables send, undone before the next test, and named: in a
warning, or in the test's failure under ``--uow-check-leaks`` when rows were left. A test that
writes only through its own transaction is named nowhere."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PROJECT_INI, databases_named, schemas_named

ESCAPED = (
    "*pytest-uow: test_escapes.py::{test}* wrote to worker {noun} {namespace} outside its "
    "rollback transaction ({tables}, committed by a connection of "
    "test_escapes.py::{test}* (pid *)); {left}; let that connection join the test (an engine "
    "on uow_database_url, the uow fixtures, uow_sessionmakers), or give the test "
    "@pytest.mark.uow(strategy='truncate'), whose reset undoes what every connection commits*"
)
ESCAPING_TESTS = {
    "test_1_commits_through_a_libpq_connection": "returned to the baseline: {table}",
    "test_3_commits_through_uow_engine": "returned to the baseline: {table}",
    "test_5_commits_in_a_child_process": "returned to the baseline: {table}",
    "test_8_writes_and_deletes_through_uow_engine": "none of it was left",
}


@pytest.fixture
def escaping(
    project: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    monkeypatch.setenv("APP_URL", own_database.url.render_as_string(hide_password=False))
    project.copy_example("escapes/test_escapes.py")
    return project


def _named(result: pytest.RunResult, noun: str, namespace: str, table: str) -> None:
    for test, left in ESCAPING_TESTS.items():
        line = ESCAPED.format(
            test=test, noun=noun, namespace=namespace, tables=table, left=left.format(table=table)
        )
        result.stdout.fnmatch_lines([line])
    assert result.stdout.str().count("outside its rollback transaction") == len(ESCAPING_TESTS)


@pytest.mark.parametrize("mode", [["-n", "2", "--dist=loadfile"], ["-p", "no:xdist"]])
def test_escapes_are_undone_and_named(
    escaping: pytest.Pytester, own_database: Engine, mode: list[str]
) -> None:
    result = escaping.runpytest_subprocess(*mode, "-p", "no:randomly")

    # Without the watch, tests 2, 4 and 6 meet the rows of the test before them.
    result.assert_outcomes(passed=9)
    _named(result, "schema", "uow_*_*", "uow_*_*.batches")
    assert schemas_named(own_database, "uow") == []


def test_check_leaks_fails_the_tests_that_left_rows(
    escaping: pytest.Pytester, own_database: Engine
) -> None:
    escaping.makepyprojecttoml(PROJECT_INI + "uow_check_leaks = true\n")

    result = escaping.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    # 1, 3 and 5 fail at teardown; 8 left nothing and is only warned about.
    result.assert_outcomes(passed=9, errors=3)
    for test in ("test_1", "test_3", "test_5"):
        result.stdout.fnmatch_lines(
            [
                f"pytest-uow: test_escapes.py::{test}_* wrote to * returned to the baseline: * "
                "(uow_check_leaks, ini uow_check_leaks in pyproject.toml)"
            ]
        )
    assert "test_escapes.py::test_8_* wrote to" in result.stdout.str().replace(
        "test_8_writes_and_deletes_through_uow_engine", "test_8_*"
    )
    assert schemas_named(own_database, "uow") == []


def test_in_database_mode(
    escaping: pytest.Pytester, outside: Engine, own_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A URL naming no database: PGDATABASE (and PGHOST, PGPORT) send it to the worker's.
    monkeypatch.setenv("APP_URL", "postgresql+psycopg2://")
    escaping.makepyprojecttoml(
        PROJECT_INI + f'uow_isolation = "database"\nuow_schema_prefix = "{own_prefix}"\n'
    )

    result = escaping.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=9)
    _named(result, "database", f"{own_prefix}_*", "public.batches")
    left = databases_named(outside, own_prefix)
    assert all(template for _, template, _, _ in left.values())  # templates only
