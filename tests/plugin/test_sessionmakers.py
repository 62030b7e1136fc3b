"""``uow_sessionmakers``: the application's own factories, captured at import time, are re-bound
in place for each test and given back afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from pytest_uow.compat import SQLALCHEMY_2
from tests.conftest import project_ini, schemas_named


@pytest.mark.parametrize(
    ("mode", "isolation"),
    [(["-n", "2"], "REPEATABLE READ"), (["-p", "no:xdist"], "SERIALIZABLE")],
    ids=["xdist-2-repeatable-read", "no-xdist-serializable"],
)
def test_flask_endpoint_rolls_back(
    project: pytest.Pytester,
    outside: Engine,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    mode: list[str],
    isolation: str,
) -> None:
    """The app's engine asks for its own isolation level; its endpoint still rolls back."""
    monkeypatch.setenv("APP_ISOLATION", isolation)
    project.copy_example("sessionmakers/test_api.py")

    result = project.runpytest_subprocess(*mode, f"--uow-schema-prefix={prefix}")

    result.assert_outcomes(passed=5)
    assert schemas_named(outside, prefix) == []


def test_without_the_setting_the_app_keeps_its_own_database(project: pytest.Pytester) -> None:
    """The other side of the coin: the app's factory points at a server that does not exist,
    so an endpoint test only passes because the plugin re-binds it."""
    project.makepyprojecttoml(project_ini(sessionmakers=False))
    project.copy_example("sessionmakers/test_api.py")

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(["*OperationalError*"])


def test_factories_are_restored_after_the_run(project: pytest.Pytester) -> None:
    project.copy_example("sessionmakers/conftest.py")
    project.copy_example("sessionmakers/test_restore.py")

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(passed=2)
    # SQLAlchemy 2's default join mode (the plugin set the option); 1.4 has no such option.
    join_mode = "'conditional_savepoint'" if SQLALCHEMY_2 else "None"
    assert (project.path / "restored.txt").read_text() == f"(True, {join_mode}, False)"


def test_scoped_session(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.copy_example("sessionmakers/scoped.py")
    project.copy_example("sessionmakers/test_scoped.py")
    monkeypatch.setenv("UOW_SESSIONMAKERS", "scoped:Session, app:DEFAULT_SESSION_FACTORY")

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(passed=3)
