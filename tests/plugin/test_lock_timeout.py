"""``uow_lock_timeout``: a statement of a test that waits on a lock longer than the setting
fails that test, whose report names the connection holding the lock and the test that left
it; the rest of the run goes on. Without it, the second test below waited forever."""

from __future__ import annotations

import pytest

from tests.conftest import PROJECT_INI


@pytest.mark.parametrize("isolation", ["schema", "database"])
def test_a_wait_on_a_lock_a_test_left_fails_the_waiting_test_naming_who_left_it(
    project: pytest.Pytester, isolation: str
) -> None:
    project.makepyprojecttoml(PROJECT_INI + 'uow_lock_timeout = "1"\n')
    project.copy_example("locks/test_locks.py")

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", f"--uow-isolation={isolation}"
    )

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_2_inserts_the_same_row _*",
            "*LockNotAvailable*lock timeout*",
            "*- pytest-uow -*",
            f"a statement of this test waited on a lock of worker {isolation} *_main past "
            "uow_lock_timeout; held by: pid *, idle in transaction, left by "
            "test_locks.py::test_1_leaves_a_row_uncommitted: INSERT INTO batches*",
        ]
    )
    result.stdout.fnmatch_lines(["uow: lock timeout=1 s (ini uow_lock_timeout in pyproject.toml)"])
