"""The pytest11 entry point ``uow``: loaded in every pytest run of the environment, and costing
nothing where pytest-uow is not used.

It declares the options and the fixtures, tells this process who it is in the run, and hands
the run's identity to xdist's workers, all without importing SQLAlchemy. The plugin itself
(``hooks.py``) is loaded only once the project is seen to use it: at start-up where any setting
is set, else after collection where a test asks for a uow fixture or carries the ``uow`` marker.
Where the installed SQLAlchemy is one pytest-uow cannot serve, a project that set any setting is
stopped with one line (``refusal.py``); every other project runs as if the plugin were not there.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from types import ModuleType
from typing import Any

import pytest

from pytest_uow import refusal
from pytest_uow.fixtures import (
    _uow_live,
    _uow_run,
    async_connection_fixture,
    uow_async_session,
    uow_async_session_factory,
    uow_connection,
    uow_database_url,
    uow_dsn,
    uow_engine,
    uow_live_app,
    uow_live_server,
    uow_schema,
    uow_scoped_session,
    uow_session,
    uow_session_factory,
    uow_worker_index,
)
from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.needs import DATABASE_FIXTURES
from pytest_uow.settings.options import ISOLATION, STRATEGY, add_options, set_by
from pytest_uow.strategies.registry import MARKER, MARKER_HELP, STRATEGIES
from pytest_uow.workers import (
    LOAD_SECONDS,
    RECEIVER,
    WORKER,
    XDIST_HOOKS,
    WorkerResults,
    XdistHooks,
    identify,
)

__all__ = [
    "_uow_live",
    "_uow_run",
    "uow_async_session",
    "uow_async_session_factory",
    "uow_connection",
    "uow_database_url",
    "uow_dsn",
    "uow_engine",
    "uow_live_app",
    "uow_live_server",
    "uow_schema",
    "uow_scoped_session",
    "uow_session",
    "uow_session_factory",
    "uow_worker_index",
]

_HOOKS = "uow-hooks"
_LOADED = pytest.StashKey[ModuleType]()  # the plugin's hooks, once loaded


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser, {ISOLATION.ini: tuple(ISOLATIONS), STRATEGY.ini: tuple(STRATEGIES)})


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    _declare_async_connection(config)
    worker = identify(config)
    config.stash[WORKER] = worker
    if config.pluginmanager.hasplugin("xdist") and worker.is_controller:
        hooks = XdistHooks(worker, lambda results: _receive(config, results))
        config.stash[XDIST_HOOKS] = hooks
        config.pluginmanager.register(hooks, "uow-xdist")
    configured_by = set_by(config)
    if configured_by:
        _load(config, configured_by)


def _declare_async_connection(config: pytest.Config) -> None:
    fixture: Any = pytest.fixture
    if config.pluginmanager.has_plugin("asyncio"):
        import pytest_asyncio  # loaded already, as its plugin is

        fixture = pytest_asyncio.fixture
    config.pluginmanager.register(async_connection_fixture(fixture), "uow-async-connection")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The test's isolation comes before any fixture, so that it is undone after them all.

    Not ``tryfirst``: pytest sets fixtures up in its own implementation, which runs after this
    plugin's, while the hooks of the project's conftest files still run before it (they may
    wait for something the test's isolation depends on)."""
    hooks = item.config.stash.get(_LOADED, None)
    if hooks is not None:
        hooks.begin_test(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    """The reset comes after every fixture of the test has finished its teardown."""
    try:
        return (yield)
    finally:
        hooks = item.config.stash.get(_LOADED, None)
        if hooks is not None:
            hooks.end_test(item)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Generator[None, object, object]:
    """What a fixture of a wider scope than the test writes lives as long as it does."""
    hooks = request.config.stash.get(_LOADED, None)
    if hooks is None or fixturedef.scope == "function":
        return (yield)
    with hooks.around_fixture_set_up(fixturedef, request):
        return (yield)


def pytest_fixture_post_finalizer(fixturedef: Any, request: Any) -> None:
    hooks = request.config.stash.get(_LOADED, None)
    if hooks is not None and fixturedef.scope != "function":
        hooks.fixture_finalized(fixturedef, request)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failure the plugin's settings caused (a lock wait past ``uow_lock_timeout``) says so
    in a section of its report."""
    report = yield
    hooks = item.config.stash.get(_LOADED, None)
    if hooks is not None:
        hooks.explain_failure(item, call, report)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The worker's namespace is dropped after the conftests' own session end."""
    hooks = session.config.stash.get(_LOADED, None)
    if hooks is not None:
        hooks.finish_session(session)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A project that set nothing but uses a uow fixture or the marker gets the plugin now."""
    if not _loaded(config) and any(_uses_the_plugin(item) for item in items):
        _load(config, [])


def _uses_the_plugin(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return not DATABASE_FIXTURES.isdisjoint(names) or item.get_closest_marker(MARKER) is not None


def _loaded(config: pytest.Config) -> bool:
    return _LOADED in config.stash


def _load(config: pytest.Config, configured_by: list[str]) -> None:
    """Register the plugin's hooks (their ``pytest_configure`` runs at once), unless this
    SQLAlchemy is one pytest-uow cannot serve."""
    if _loaded(config) or not refusal.supported(configured_by):
        return
    started = time.perf_counter()
    from pytest_uow import hooks

    config.pluginmanager.register(hooks, _HOOKS)
    config.stash[_LOADED] = hooks
    config.stash[LOAD_SECONDS] = time.perf_counter() - started


def _receive(config: pytest.Config, results: WorkerResults) -> None:
    """A worker's results, in the controller: a worker that used the plugin sends them, so the
    controller loads it too (to show the summary and stop the run's server)."""
    _load(config, [])
    receiver = config.stash.get(RECEIVER, None)
    if receiver is not None:
        receiver(results)
