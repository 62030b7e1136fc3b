"""Teardown that cannot hang: locks a test leaves behind end in a lock timeout; the worker's own
backends holding them are terminated and the test is named in a warning; anybody else's are
never touched."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PublicGuard, schemas_named


def test_our_leftover_locks_are_broken_and_the_test_named_in_a_warning(
    project: pytest.Pytester, outside: Engine, prefix: str, public_guard: PublicGuard
) -> None:
    before = public_guard.fingerprint()
    project.copy_example("teardown/test_leak.py")

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=4, warnings=3)
    terminated = "pytest-uow terminated 1 connection(s) that test_leak.py::{} left holding locks"
    result.stdout.fnmatch_lines(
        [
            "*UowWarning: "
            + terminated.format("test_1_leaves_a_connection_holding_a_lock")
            + f" on worker schema {prefix}_*_main, so that the reset could run (pid *, idle in "
            "transaction: LOCK TABLE batches IN ACCESS EXCLUSIVE MODE): close connections, "
            "sessions and threads in the test or its fixtures",
            "*UowWarning: "
            + terminated.format("test_2_leaves_a_thread_in_a_transaction")
            + "*(pid *, idle in transaction: INSERT INTO batches*",
            "*UowWarning: pytest-uow terminated 1 connection(s) of this worker that still held "
            f"locks on worker schema {prefix}_*_main at the end of the run, so that it could be "
            "dropped: pid *, idle in transaction: LOCK TABLE batches IN SHARE MODE",
        ]
    )
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before


def test_a_lock_held_by_anybody_else_is_an_error_naming_them_and_they_are_left_alone(
    project: pytest.Pytester, outside: Engine, prefix: str
) -> None:
    project.copy_example("teardown/test_other.py")

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_1_someone_else_locks_the_schema*",
            "pytest-uow could not reset the worker schema after "
            "test_other.py::test_1_someone_else_locks_the_schema (truncate): locks on worker "
            f"schema {prefix}_*_main are held by backends that are not this worker's, and are "
            "left alone: pid *, idle in transaction: LOCK TABLE batches IN ACCESS EXCLUSIVE "
            "MODE (application 'someone-else')",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert schemas_named(outside, prefix) == []
