"""Nothing hangs: no connection the plugin opened stays in a transaction past its test, under
pytest-asyncio (function and module loops) and anyio, after a failing test, an erring one and
one that pytest-timeout interrupts. Each is followed by a test that inserts the same unique
row, which would wait on the first one's transaction (until ``uow_lock_timeout`` failed it)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import schemas_named

HANGS_INI = (
    '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
    'asyncio_default_fixture_loop_scope = "function"\n'
)


@pytest.mark.parametrize("strategy", ["truncate", "rollback"])
def test_a_test_left_in_a_transaction_holds_nothing_after_it(
    project: pytest.Pytester, outside: Engine, prefix: str, strategy: str
) -> None:
    project.copy_example("hangs")
    project.makepyprojecttoml(HANGS_INI)

    result = project.runpytest_subprocess(
        "test_hangs.py",
        "-p", "asyncio", "-p", "anyio", "-p", "timeout", "-p", "no:xdist", "-p", "no:randomly",
        f"--uow-strategy={strategy}", "--uow-lock-timeout=3", f"--uow-schema-prefix={prefix}",
    )  # fmt: skip

    # The second test of each pair passes at once: none of them met a lock.
    result.assert_outcomes(passed=5, failed=3, errors=1)
    for second in ("a2", "b2", "c2", "d2"):
        result.stdout.no_fnmatch_line(f"*test_{second}_same_row*")
    result.stdout.fnmatch_lines(["*Timeout*"])  # pytest-timeout interrupted d1
    assert "uow_lock_timeout" not in result.stdout.str()
    assert schemas_named(outside, prefix) == []


def test_anyios_loop_and_the_plugins_connection_live_as_long_as_its_widest_async_fixture(
    project: pytest.Pytester,
) -> None:
    """The async guide's account of anyio: a loop per test unless a wider-scoped async fixture spans
    the tests; the plugin's connection lives on that loop, and its rollback, at the loop's
    shutdown, is measured as the reset."""
    project.copy_example("hangs")
    project.makepyprojecttoml(HANGS_INI)

    result = project.runpytest_subprocess(
        "test_anyio_loops.py", "-p", "anyio", "-p", "no:asyncio", "-p", "no:xdist",
        "-p", "no:randomly",
    )  # fmt: skip

    result.assert_outcomes(passed=6)
