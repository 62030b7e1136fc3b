"""truncate and recreate: real commits that other connections and processes see, emptied (or
rebuilt) afterwards; the uow marker; mixing strategies in any order; teardown order."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import PublicGuard, project_ini, schemas_named

MODES = [pytest.param(["-n", "2"], id="xdist-2"), pytest.param(["-p", "no:xdist"], id="no-xdist")]


# One -n 2 case per guarantee: truncate under xdist, recreate without.
@pytest.mark.parametrize(
    ("strategy", "mode"),
    [("truncate", ["-n", "2"]), ("recreate", ["-p", "no:xdist"])],
    ids=["truncate-xdist-2", "recreate-no-xdist"],
)
def test_real_commits_are_visible_and_undone(
    project: pytest.Pytester,
    outside: Engine,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    strategy: str,
    mode: list[str],
) -> None:
    monkeypatch.setenv("STRATEGY", strategy)
    project.copy_example("strategies/test_commits.py")

    result = project.runpytest_subprocess(*mode, f"--uow-schema-prefix={prefix}")

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([f"uow: reset {strategy}: 4 tests, p50 * ms, p95 * ms"])
    assert schemas_named(outside, prefix) == []


def test_concurrency_test_passes_under_truncate(project: pytest.Pytester) -> None:
    project.copy_example("strategies/test_concurrency.py")

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["uow: reset truncate: 1 test, *"])


def test_recreate_survives_schema_changes(project: pytest.Pytester) -> None:
    project.copy_example("strategies/test_schema_changes.py")

    result = project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=3)


def test_mixed_strategies_in_random_order_leave_nothing(
    project: pytest.Pytester, outside: Engine, public_guard: PublicGuard, prefix: str
) -> None:
    project.copy_example("strategies/test_mixed.py")
    before = public_guard.fingerprint()

    result = project.runpytest_subprocess(
        "-n",
        "2",
        "-p",
        "randomly",
        "--randomly-seed=1",
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


def test_reset_runs_after_the_tests_own_fixtures(project: pytest.Pytester) -> None:
    """The consumer is requested before uow_session, so it would be stopped after the reset
    if the reset were not deferred to the very end. No sessionmakers to re-bind here: they
    would make every test's isolation start first anyway."""
    project.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
    )
    project.copy_example("strategies/test_order.py")

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", "--uow-strategy=truncate"
    )

    result.assert_outcomes(passed=2)


def test_the_plugins_sessions_are_closed_before_the_reset(project: pytest.Pytester) -> None:
    """Were the session left open, the reset would meet its row lock, wait out the lock
    timeout, terminate its backend and warn: the warning, made an error here, fails the run."""
    project.copy_example("strategies/test_open_session.py")

    result = project.runpytest_subprocess(
        "-p",
        "no:xdist",
        "-p",
        "no:randomly",
        "--uow-strategy=truncate",
        "-W",
        "error::pytest_uow.UowWarning",
    )

    result.assert_outcomes(passed=2)
    assert "terminated" not in result.stdout.str()


def test_marker_is_validated_and_registered(project: pytest.Pytester) -> None:
    project.copy_example("strategies/test_bad.py")

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


def test_marked_test_using_only_the_engine_is_cleaned_up(project: pytest.Pytester) -> None:
    """DESIGN: the marker alone earns a test its reset. (No sessionmakers configured, since
    they would give every test its reset anyway.)"""
    project.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
    )
    project.copy_example("strategies/test_marker_alone.py")

    result = project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=2)


def test_strategies_by_node_id_pattern_the_marker_still_wins(
    project: pytest.Pytester, outside: Engine, prefix: str
) -> None:
    project.makepyprojecttoml(
        project_ini(sessionmakers=False)
        + f'uow_schema_prefix = "{prefix}"\nuow_strategies = ["e2e/* = truncate"]\n'
    )
    project.copy_example("by_path")

    result = project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "uow: strategies=e2e/* = truncate (ini uow_strategies in pyproject.toml)",
            "uow: reset rollback: 2 tests, *",
            "uow: reset truncate: 1 test, *",
        ]
    )
    assert "UowWarning" not in result.stdout.str()  # the truncate test was reset, not probed
    assert schemas_named(outside, prefix) == []


def test_a_pattern_without_a_known_strategy_is_one_line(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:xdist", "-o", "uow_strategies=e2e/* = fast")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: uow_strategies: ['e2e/* = fast'] from command line -o uow_strategies: "
            "'e2e/* = fast': 'fast' is not one of: rollback, truncate, recreate"
        ]
    )
