"""``uow_live_server``: the application served over HTTP in a thread of each worker, started
once per worker; every request runs inside the running test's isolation (under rollback, on
the test's one connection, one request at a time)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PROJECT_INI, schemas_named
from tests.plugin.test_async import ASYNC_INI

LIVE_INI = PROJECT_INI + 'uow_live_app = "liveapp:create_live_app"\n'


@pytest.fixture
def live_project(project: pytest.Pytester) -> pytest.Pytester:
    project.makepyprojecttoml(LIVE_INI)
    project.copy_example("live/liveapp.py")
    return project


@pytest.mark.parametrize("mode", [["-n", "2", "--dist=loadfile"], ["-p", "no:xdist"]])
def test_requests_run_inside_the_tests_isolation(
    live_project: pytest.Pytester, own_database: Engine, mode: list[str]
) -> None:
    live_project.copy_example("live/test_live.py")

    result = live_project.runpytest_subprocess(*mode, "-p", "no:randomly")

    result.assert_outcomes(passed=6)
    assert schemas_named(own_database, "uow") == []


def test_a_request_still_in_flight_is_reported_and_the_reset_does_not_wait(
    project: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOW", "60")
    project.copy_example("live/liveapp.py")
    project.copy_example("live/test_slow.py")

    # The application named on the command line this time.
    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", "--uow-live-app=liveapp:create_live_app"
    )

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-uow: test_slow.py::test_leaves_a_request_in_flight: a request to the live "
            "server was still being served 5 s after the test ended; its query was cancelled"
        ]
    )
    assert schemas_named(own_database, "uow") == []


@pytest.mark.parametrize("mode", [["-n", "2", "--dist=loadfile"], ["-p", "no:xdist"]])
def test_an_asgi_app_handed_from_a_fixture(
    project: pytest.Pytester, own_database: Engine, mode: list[str]
) -> None:
    """FastAPI with sync endpoints (its thread pool), served by uvicorn on a loop of its own."""
    for name in ("live/liveasgi.py", "live/test_live.py"):
        project.copy_example(name)
    project.copy_example("live/conftest_asgi.py").rename(project.path / "conftest.py")

    result = project.runpytest_subprocess(*mode, "-p", "no:randomly")

    result.assert_outcomes(passed=6)
    assert schemas_named(own_database, "uow") == []


def test_async_sessions_of_an_asgi_app_join_the_test_on_the_servers_loop(
    project: pytest.Pytester, own_database: Engine
) -> None:
    project.makepyprojecttoml(ASYNC_INI + 'uow_live_app = "liveasync:api"\n')
    project.copy_example("async_app/app.py")
    for name in ("live/liveasync.py", "live/test_live_async.py"):
        project.copy_example(name)

    result = project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=2)
    assert schemas_named(own_database, "uow") == []


def test_without_an_application_the_fixture_says_what_to_set(project: pytest.Pytester) -> None:
    project.makepyfile(test_x="def test_x(uow_live_server):\n    pass\n")

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-uow: uow_live_server has no application to serve: set uow_live_app "
            "(--uow-live-app, UOW_LIVE_APP) to module:attribute, or override the uow_live_app "
            "fixture"
        ]
    )


def test_an_application_that_cannot_be_imported_is_one_line(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:xdist", "--uow-live-app=nowhere:app")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: uow_live_app: 'nowhere:app' from command line --uow-live-app: cannot import "
            "nowhere: ModuleNotFoundError: No module named 'nowhere'"
        ]
    )


def test_an_object_that_is_not_an_application_is_one_line(project: pytest.Pytester) -> None:
    project.makepyfile(test_x="def test_x(uow_live_server):\n    pass\n")

    result = project.runpytest_subprocess("-p", "no:xdist", "--uow-live-app=app:metadata")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-uow: uow_live_app (app:metadata, command line --uow-live-app) is a MetaData: "
            "name a WSGI application (Flask), an ASGI application (FastAPI, Starlette) or a "
            "factory returning one"
        ]
    )


def test_the_application_is_imported_only_when_a_test_first_uses_the_live_server(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An application that maps its ORM as it is imported (the book's flask_app) must not be
    imported in every worker at start-up, beside the tests' own imports of it."""
    imported = project.path / "imported"
    monkeypatch.setenv("IMPORTED_MARK", str(imported))
    project.makepyfile(
        mapsonimport="import os\nopen(os.environ['IMPORTED_MARK'], 'a').write('x')\napp = None\n",
        test_plain="def test_plain():\n    pass\n",
    )

    result = project.runpytest_subprocess("-n", "2", "--uow-live-app=mapsonimport:app")

    result.assert_outcomes(passed=1)
    assert not imported.exists()


def test_an_application_that_fails_as_it_is_imported_is_one_line_in_the_test_using_it(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        broken="raise RuntimeError('no settings')\n",
        test_x="def test_x(uow_live_server):\n    pass\n",
    )

    result = project.runpytest_subprocess("-p", "no:xdist", "--uow-live-app=broken:app")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-uow: uow_live_app (broken:app, command line --uow-live-app): cannot import "
            "broken: RuntimeError: no settings"
        ]
    )
