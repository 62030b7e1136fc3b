"""A failing test that used the database gets a ``pytest-uow`` report section saying where its
data was, read before its reset: the worker namespace and strategy, the tables it wrote with
their rows (its uncommitted ones too, under ``rollback``), and the worker's connections still
in a transaction; a passing test gets none."""

from __future__ import annotations

import fnmatch
import re

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PROJECT_INI, schemas_named


@pytest.mark.parametrize(
    ("args", "noun", "table"),
    [
        (["-p", "no:xdist"], "schema", "uow_*_main.batches"),
        (["-n", "2", "--dist=loadfile"], "schema", "uow_*_gw?.batches"),
        (["-p", "no:xdist", "--uow-isolation=database"], "database", "public.batches"),
    ],
    ids=["n0", "n2", "database"],
)
def test_a_failed_tests_report_says_where_its_data_was(
    project: pytest.Pytester,
    own_database: Engine,
    args: list[str],
    noun: str,
    table: str,
) -> None:
    project.makepyprojecttoml(PROJECT_INI)
    project.copy_example("reports/test_reports.py")

    # In random order: each report is read from the server before that test's reset.
    result = project.runpytest_subprocess(*args, "-p", "randomly")

    result.assert_outcomes(passed=1, failed=3)
    namespace = f"worker {noun} uow_*_*"
    reports = _reports(result.stdout.str())
    assert set(reports) == {
        "test_1_writes_two_rows_and_fails",
        "test_2_commits_and_leaves_a_connection_in_a_transaction",
        "test_4_fails_without_writing",
    }
    _matches(
        reports["test_1_writes_two_rows_and_fails"],
        [
            f"{namespace}, strategy rollback",
            "tables that left the baseline, as the test's connection sees them: "
            f"{table} (2 rows, 2 not the baseline's)",
            "connections of this worker in a transaction or busy: none",
        ],
    )
    _matches(
        reports["test_2_commits_and_leaves_a_connection_in_a_transaction"],
        [
            f"{namespace}, strategy truncate",
            f"tables that left the baseline, as the test's connection sees them: {table} "
            "(1 row, 1 not the baseline's)",
            "connections of this worker in a transaction or busy: pid *, idle in transaction, "
            "left by test_reports.py::test_2_*: SELECT count(*) FROM batches",
        ],
    )
    _matches(
        reports["test_4_fails_without_writing"],
        [
            f"{namespace}, strategy rollback",
            "tables that left the baseline, as the test's connection sees them: none",
        ],
    )
    assert result.stdout.str().count("- pytest-uow -") == 3  # the passing test has none
    assert schemas_named(own_database, "uow") == []


_HEADER = re.compile(r"^_{3,} (\S+) _{3,}$", re.MULTILINE)


def _reports(output: str) -> dict[str, list[str]]:
    """Each failed test's ``pytest-uow`` report section, by test name."""
    parts = _HEADER.split(output.split("= short test summary info =")[0])
    sections = {}
    for name, block in zip(parts[1::2], parts[2::2], strict=True):
        if "- pytest-uow -" in block:
            section = block.split("- pytest-uow -", 1)[1].splitlines()[1:]
            sections[name] = [line for line in section if line.strip()]
    return sections


def _matches(lines: list[str], patterns: list[str]) -> None:
    assert len(lines) >= len(patterns), lines
    for line, pattern in zip(lines, patterns, strict=False):
        assert fnmatch.fnmatch(line, pattern), (line, pattern)
