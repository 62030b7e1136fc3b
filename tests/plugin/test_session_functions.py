"""``uow_sessionmakers`` naming a function that returns sessions (an engine built per call, a
FastAPI dependency): replaced for each test wherever it was imported by name, so that its
sessions join the test's isolation; refused in one line where it cannot be served."""

from __future__ import annotations

import functools

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from pytest_uow.sessions.registry import adapter_for
from tests.conftest import project_ini, schemas_named

FUNCTIONS_INI = project_ini(sessionmakers=False) + (
    'uow_sessionmakers = ["getsession:get_session", "getsession:session_dependency"]\n'
)


@pytest.mark.parametrize("mode", [["-n", "2"], ["-p", "no:xdist"]])
def test_sessions_of_a_function_join_the_tests_isolation(
    project: pytest.Pytester,
    own_database: Engine,
    monkeypatch: pytest.MonkeyPatch,
    mode: list[str],
) -> None:
    monkeypatch.setenv("APP_URL", own_database.url.render_as_string(hide_password=False))
    project.makepyprojecttoml(FUNCTIONS_INI)
    project.copy_example("functions")

    result = project.runpytest_subprocess(*mode)

    result.assert_outcomes(passed=5)
    assert "UowWarning" not in result.stdout.str()  # nothing committed outside the isolation
    assert schemas_named(own_database, "uow") == []
    assert inspect(own_database).get_table_names(schema="public") == []


async def _async_get_session() -> None:
    """An async function returning sessions."""


def test_an_async_function_is_refused_naming_what_to_do() -> None:
    with pytest.raises(
        ValueError,
        match=r"^app:get_session is an async function; name the async_sessionmaker it opens "
        r"sessions from, or override it with app.dependency_overrides and "
        r"uow_async_session_factory$",
    ):
        adapter_for("app:get_session", _async_get_session)


def test_a_callable_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^app:make is a partial, not a function$"):
        adapter_for("app:make", functools.partial(print))
