"""Async SQLAlchemy: the application's module-level ``async_sessionmaker`` and the plugin's
async fixtures, isolated like sync sessions under pytest-asyncio (strict and auto modes,
function and session loops) and anyio, with asyncpg and psycopg."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

import pytest_uow
from pytest_uow.compat import SQLALCHEMY_2
from tests.conftest import PublicGuard, databases_named, schemas_named

ASYNC_INI = (
    '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
    'uow_sessionmakers = ["app:Session"]\n'
)
FUNCTION_LOOPS = 'asyncio_default_fixture_loop_scope = "function"\n'
SESSION_LOOPS = (
    'asyncio_default_test_loop_scope = "session"\nasyncio_default_fixture_loop_scope = "session"\n'
)
# Three rollback tests, three fixture tests, a recreate test, two truncate tests, one concurrent
# truncate test, a child task taking its turn, an engine of the test's own, the app's own
# driver; the concurrency refusal runs only where asked.
OUTCOMES = {"passed": 13, "skipped": 1}
PSYCOPG_OR_ASYNCPG = "psycopg" if SQLALCHEMY_2 else "asyncpg"


@pytest.fixture
def async_project(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> pytest.Pytester:
    """The async app and its tests."""
    project.copy_example("async_app")
    project.makepyprojecttoml(ASYNC_INI + FUNCTION_LOOPS + f'uow_schema_prefix = "{prefix}"\n')
    return project


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A run with pytest-asyncio's and anyio's plugins, which the inner runs block otherwise."""
    return project.runpytest_subprocess("-p", "asyncio", "-p", "anyio", *args)


@pytest.mark.parametrize(
    ("framework", "ini", "args", "environment"),
    [
        # The plugin's own URL may name an async driver: its sync counterpart serves the
        # plugin's own work, and the app's own driver (asyncpg here) its sessions.
        ("strict", FUNCTION_LOOPS, ["-p", "no:xdist"], {"URL_DRIVER": "asyncpg"}),
        ("strict", FUNCTION_LOOPS, ["-n", "2"], {}),
        # One loop for the session, and a worker database that recreate replaces under it.
        ("strict", SESSION_LOOPS, ["-p", "no:xdist", "--uow-isolation=database"], {}),
        ("auto", FUNCTION_LOOPS + 'asyncio_mode = "auto"\n', ["-p", "no:xdist"], {}),
        # psycopg (3) where SQLAlchemy has it (2.0 and newer).
        ("anyio", FUNCTION_LOOPS, ["-p", "no:xdist"], {"APP_DRIVER": PSYCOPG_OR_ASYNCPG}),
    ],
    ids=["strict-asyncpg-url", "strict-xdist", "session-loop-database", "auto", "anyio-psycopg"],
)
def test_async_sessions_are_isolated_under_every_loop_framework_and_driver(
    async_project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    outside: Engine,
    public_guard: PublicGuard,
    server_url: str,
    own_prefix: str,
    framework: str,
    ini: str,
    args: list[str],
    environment: dict[str, str],
) -> None:
    before = public_guard.fingerprint()
    monkeypatch.setenv("ASYNC_FRAMEWORK", framework)
    if "APP_DRIVER" in environment:
        monkeypatch.setenv("APP_DRIVER", environment["APP_DRIVER"])
    if "URL_DRIVER" in environment:
        url = server_url.replace("+psycopg2", "+" + environment["URL_DRIVER"])
        monkeypatch.setenv("UOW_DATABASE_URL", url)
    async_project.makepyprojecttoml(ASYNC_INI + f'uow_schema_prefix = "{own_prefix}"\n' + ini)

    result = run(async_project, *args, "-p", "no:randomly")

    result.assert_outcomes(**OUTCOMES)
    if "URL_DRIVER" in environment:
        result.stdout.fnmatch_lines(
            ["uow: server=postgresql+psycopg2://* (environment UOW_DATABASE_URL)"]
        )
    # The end of the run says which drivers the tests' sessions used, the app's own included.
    used = environment.get("APP_DRIVER", "asyncpg")
    reached = "uow: the tests' engines and async sessions reached the worker namespaces through"
    result.stdout.fnmatch_lines([f"{reached} *{used}*"])
    assert schemas_named(outside, own_prefix) == []
    left = list(databases_named(outside, own_prefix))
    assert all(name.startswith(f"{own_prefix}_tpl_") for name in left), left
    assert public_guard.fingerprint() == before


def test_a_driver_the_plugin_cannot_use_is_one_line(
    async_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UOW_DATABASE_URL", "postgresql+pg8000://postgres@127.0.0.1/test")

    result = run(async_project, "-p", "no:xdist")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: uow_database_url: 'postgresql+pg8000://postgres@127.0.0.1/test' from "
            "environment UOW_DATABASE_URL: pytest-uow cannot use the driver pg8000; use "
            "postgresql:// (psycopg2), postgresql+psycopg://, postgresql+asyncpg:// or "
            "postgresql+psycopg_async://"
        ]
    )


def test_two_tasks_on_the_tests_one_connection_are_told_to_use_truncate(
    async_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONCURRENT", "1")

    result = run(async_project, "-p", "no:xdist", "-k", "told_what_to_do", "--tb=line")

    result.assert_outcomes(failed=1, deselected=13)
    result.stdout.fnmatch_lines(
        [
            "*UowError: two tasks used the test's one connection at once; under the rollback "
            "strategy every session of a test shares one connection: give the test "
            '@pytest.mark.uow(strategy="truncate") to let each task have a connection of its own '
            "(task Task-* used it while task Task-* was still *)"
        ]
    )


def test_a_fixture_and_a_test_on_different_loops_are_one_line(
    async_project: pytest.Pytester, prefix: str
) -> None:
    """The test runs on the session's loop, the connection fixture on the function's."""
    async_project.makepyprojecttoml(
        ASYNC_INI
        + FUNCTION_LOOPS
        + 'asyncio_default_test_loop_scope = "session"\n'
        + f'uow_schema_prefix = "{prefix}"\n'
    )

    result = run(async_project, "-p", "no:xdist", "-k", "connection_fixture", "--tb=line")

    result.assert_outcomes(failed=1, deselected=13)
    result.stdout.fnmatch_lines(
        [
            "*UowError: the test's async sessions ran on two event loops: a fixture and the "
            "test run on different loops (give them the same loop scope: pytest-asyncio's "
            "loop_scope, or asyncio_default_fixture_loop_scope), or the test and the live "
            "server (use the truncate strategy for that test)"
        ]
    )


def test_asyncpg_gets_the_worker_namespace_as_connect_arguments() -> None:
    url, connect_args = pytest_uow.async_engine_args(
        "postgresql+psycopg2://u@h/db?options=-csearch_path%3Duow_1_gw0"
        "&application_name=pytest-uow+1+gw0&connect_timeout=10"
    )

    assert url.render_as_string() == "postgresql+asyncpg://u@h/db"
    assert connect_args == {
        "server_settings": {"search_path": "uow_1_gw0", "application_name": "pytest-uow 1 gw0"},
        "timeout": 10.0,
    }


def test_psycopg_takes_the_worker_url_as_it_is() -> None:
    given = "postgresql+psycopg2://u@h/db?options=-csearch_path%3Duow_1_gw0"

    url, connect_args = pytest_uow.async_engine_args(given, "psycopg")

    assert url.render_as_string() == given.replace("+psycopg2", "+psycopg")
    assert connect_args == {}
