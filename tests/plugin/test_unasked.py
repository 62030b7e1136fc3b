"""No test escapes the reset: in a run where the plugin is configured, a test that asks nothing
of it (no function-scoped fixture, no marker) still runs in the worker namespace; the
application's engines join it; what it commits there through connections of its own is removed
after it, with the test named."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from tests.conftest import databases_named, project_ini, schemas_named

WARNED = (
    "*pytest-uow: test_unasked.py::{0} has no isolation of its own (no function-scoped uow "
    "fixture, no uow marker) and left rows in worker {1} {2}, now removed: {3} (committed by a "
    "connection of test_unasked.py::{0} (pid *)); give it one: a uow "
    "fixture (uow_session, uow_connection), uow_sessionmakers for the application's factories, "
    "or @pytest.mark.uow(strategy='truncate') for its own connections"
)


@pytest.fixture
def unasked(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The project's tables, no sessionmakers: none of its tests needs the plugin."""
    project.makepyprojecttoml(project_ini(sessionmakers=False))
    for name in ("functions/getsession.py", "functions/service.py", "unasked/test_unasked.py"):
        project.copy_example(name)
    return project


def _user_tables(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names(schema="public")


@pytest.mark.parametrize("mode", [["-n", "2", "--dist=loadfile"], ["-p", "no:xdist"]])
def test_what_they_commit_is_removed_and_they_are_named(
    unasked: pytest.Pytester,
    own_database: Engine,
    monkeypatch: pytest.MonkeyPatch,
    mode: list[str],
) -> None:
    # The app's own URL names the run's database: PGOPTIONS routes it to the worker schema.
    monkeypatch.setenv("APP_URL", own_database.url.render_as_string(hide_password=False))

    result = unasked.runpytest_subprocess(*mode, "-p", "no:randomly")

    result.assert_outcomes(passed=7)
    for test in ("test_1_commits_through_a_libpq_connection*", "test_3_uses_a_session_f*"):
        result.stdout.fnmatch_lines([WARNED.format(test, "schema", "uow_*_*", "uow_*_*.batches")])
    assert result.stdout.str().count("has no isolation of its own") == 2
    assert schemas_named(own_database, "uow") == []
    assert _user_tables(own_database) == []  # nothing was ever written to public


def test_check_leaks_fails_them(
    unasked: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_URL", own_database.url.render_as_string(hide_password=False))

    result = unasked.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", "--uow-check-leaks"
    )

    result.assert_outcomes(passed=7, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*pytest-uow found rows that test_unasked.py::test_1_commits_through_a_libpq_"
            "connection_of_its_own left behind (uow_check_leaks, command line "
            "--uow-check-leaks): rows left in worker schema uow_*_* by the test: "
            "uow_*_*.batches (1 row) (committed through a connection of its own; they were "
            "removed); it has no isolation of its own (no function-scoped uow fixture, no uow "
            "marker): give it one: *",
        ]
    )
    assert (
        "has no isolation of its own (no function-scoped uow fixture, no uow marker) and"
        not in (result.stdout.str())
    )  # failed, not warned as well
    assert schemas_named(own_database, "uow") == []


def test_in_database_mode(
    unasked: pytest.Pytester, outside: Engine, own_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A URL naming no database: PGDATABASE (and PGHOST, PGPORT) send it to the worker's.
    monkeypatch.setenv("APP_URL", "postgresql+psycopg2://")
    unasked.makepyprojecttoml(
        project_ini(sessionmakers=False)
        + f'uow_isolation = "database"\nuow_schema_prefix = "{own_prefix}"\n'
    )

    result = unasked.runpytest_subprocess("-n", "2", "--dist=loadfile", "-p", "no:randomly")

    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        [WARNED.format("test_1_*", "database", f"{own_prefix}_*", "public.batches")]
    )
    left = databases_named(outside, own_prefix)
    assert all(template for _, template, _, _ in left.values())  # templates only


def test_a_fixture_taken_at_run_time_isolates_the_test(project: pytest.Pytester) -> None:
    """``request.getfixturevalue("uow_session")`` in a test that names no fixture of the plugin:
    the test is isolated from that moment, and the next test starts empty."""
    project.makepyprojecttoml(project_ini(sessionmakers=False))
    project.makepyfile(
        test_late="""
        from sqlalchemy import text

        def test_1_asks_at_run_time(request):
            session = request.getfixturevalue("uow_session")
            session.execute(text("INSERT INTO batches (reference, qty) VALUES ('late', 1)"))
            session.commit()

        def test_2_starts_empty(request):
            session = request.getfixturevalue("uow_session")
            count = session.execute(text("SELECT count(*) FROM batches")).scalar_one()
            assert count == 0
        """
    )

    result = project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=2)
    assert "UowWarning" not in result.stdout.str()
