"""The leak detector, ``--uow-check-leaks``: rows a test leaves in the worker schema, or writes
outside it, fail that test by name; rows left in the worker schema are removed; rows outside
are reported and never touched."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import PROJECT_INI, schemas_named


@pytest.fixture
def leaky_project(
    project: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    with own_database.begin() as connection:
        connection.execute(text("CREATE TABLE public.audit (note text)"))
        connection.execute(text("INSERT INTO public.audit VALUES ('before the run')"))
    monkeypatch.setenv("APP_URL", own_database.url.render_as_string(hide_password=False))
    project.copy_example("leaks/test_leaky.py")
    return project


def _audit(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT note FROM public.audit ORDER BY 1")).scalars())


@pytest.mark.parametrize("given_in", ["command line", "environment", "ini"])
def test_leaks_fail_the_test_that_left_them(
    leaky_project: pytest.Pytester,
    own_database: Engine,
    monkeypatch: pytest.MonkeyPatch,
    given_in: str,
) -> None:
    mode = ["-p", "no:xdist"]
    if given_in == "command line":
        mode.append("--uow-check-leaks")
        source = "command line --uow-check-leaks"
    elif given_in == "environment":
        monkeypatch.setenv("UOW_CHECK_LEAKS", "1")
        mode = ["-n", "2", "--dist=loadfile"]  # one worker runs them all, in order
        source = "environment UOW_CHECK_LEAKS"
    else:
        leaky_project.makepyprojecttoml(PROJECT_INI + "uow_check_leaks = true\n")
        source = "ini uow_check_leaks in pyproject.toml"

    result = leaky_project.runpytest_subprocess(*mode, "-p", "no:randomly")

    result.assert_outcomes(passed=5, errors=2)
    found = "pytest-uow found rows that test_leaky.py::{} left behind (uow_check_leaks, {}): "
    # What another connection committed during a rollback test is found from the worker's
    # notifications, with who committed it (test_escapes.py has the rest).
    result.stdout.fnmatch_lines(
        [
            "*pytest-uow: test_leaky.py::test_3_commits_through_a_connection_of_its_own wrote to "
            "worker schema uow_*_* outside its rollback transaction (uow_*_*.batches, committed "
            "by a connection of test_leaky.py::test_3_* (pid *)); returned to the baseline: "
            f"uow_*_*.batches; let that connection join the test * (uow_check_leaks, {source})",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            found.format("test_4_writes_to_public_through_a_libpq_connection_of_its_own", source)
            + "rows written outside the worker namespaces while it ran: public.audit (1 row) "
            "(through an engine or connection that does not use the worker's namespace; use the "
            "uow fixtures or uow_sessionmakers)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    # Reported, never touched: the row the test wrote outside is still there.
    assert _audit(own_database) == ["before the run", "from test 4"]
    assert schemas_named(own_database, "uow") == []


def test_off_by_default(leaky_project: pytest.Pytester, own_database: Engine) -> None:
    result = leaky_project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    # No leak fails a test. The row test 3 committed outside its transaction is still undone
    # (test 5 starts empty) and test 3 is named in a warning; public.audit is not looked at.
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        ["*UowWarning: pytest-uow: test_leaky.py::test_3_* wrote to worker schema uow_*_* *"]
    )
    assert "left behind" not in result.stdout.str()
    assert _audit(own_database) == ["before the run", "from test 4"]
