"""The plugin's hooks and wiring, which ``plugin.py`` loads where SQLAlchemy is one pytest-uow
serves; the work lives in small modules."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Generator
from typing import Any

import pytest
from sqlalchemy.exc import SQLAlchemyError

from pytest_uow.check_items import MIGRATION_CHECKS, migration_check_items, once_per_run
from pytest_uow.config import resolve, source_identity
from pytest_uow.diagnosis import one_line
from pytest_uow.errors import DatabaseSetupError, UowWarning
from pytest_uow.fixtures import (
    _uow_live,
    _uow_run,
    uow_async_connection,
    uow_async_session,
    uow_async_session_factory,
    uow_connection,
    uow_database_url,
    uow_dsn,
    uow_engine,
    uow_live_app,
    uow_live_server,
    uow_schema,
    uow_session,
    uow_session_factory,
    uow_worker_index,
)
from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.options import ISOLATION, STRATEGY, add_options
from pytest_uow.report import settings_lines, summary_lines
from pytest_uow.reset import begin, end, need_of
from pytest_uow.server import RunServer
from pytest_uow.state import STATE, RunState, run_state
from pytest_uow.strategies.registry import MARKER, MARKER_HELP, STRATEGIES
from pytest_uow.workers import XdistHooks, hand_back, identify
from pytest_uow.workspace import WorkerDatabase

__all__ = [
    "_uow_live",
    "_uow_run",
    "uow_async_connection",
    "uow_async_session",
    "uow_async_session_factory",
    "uow_connection",
    "uow_database_url",
    "uow_dsn",
    "uow_engine",
    "uow_live_app",
    "uow_live_server",
    "uow_schema",
    "uow_session",
    "uow_session_factory",
    "uow_worker_index",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser, {ISOLATION.ini: tuple(ISOLATIONS), STRATEGY.ini: tuple(STRATEGIES)})


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    settings = resolve(config)
    worker = identify(config)
    server = None
    if settings.url.value is None:
        server = RunServer(worker.run_id, worker.controller_pid, settings.pg_bindir.value)
    isolation = ISOLATIONS[settings.isolation.value].create(
        worker, settings.schema_prefix.value, settings.rebuild.value
    )
    state = RunState(
        settings=settings,
        worker=worker,
        server=server,
        database=WorkerDatabase(settings, worker, server, isolation),
    )
    config.stash[STATE] = state
    if settings.check_migrations.value:
        config.stash[MIGRATION_CHECKS] = once_per_run(state)
    if settings.rebuild.value and worker.is_controller:
        settings.source.discard_cache()  # before any worker starts: the first one builds
    if config.pluginmanager.hasplugin("xdist") and worker.is_controller:
        identity = None
        if ISOLATIONS[settings.isolation.value].uses_source_identity:
            identity = functools.partial(source_identity, settings)
        hooks = XdistHooks(worker, state.results.add, identity)
        config.pluginmanager.register(hooks, "uow-xdist")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """``uow_drop_kept``: before any worker starts."""
    state = run_state(session.config)
    if not (state.settings.drop_kept.value and state.worker.is_controller):
        return
    try:
        state.results.add({"dropped_kept": state.database.drop_kept()})
    except SQLAlchemyError as error:
        warnings.warn(
            UowWarning(f"pytest-uow could not drop the kept namespaces: {one_line(error)}"),
            stacklevel=1,
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = run_state(config).settings
    return settings_lines(settings) if settings.configured else []


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """The migration checks come first: before ``-k`` and the other plugins' selections, and
    ahead of the tests whose namespaces the migrations build."""
    checks = session.config.stash.get(MIGRATION_CHECKS, None)
    if checks is not None:
        items[:0] = migration_check_items(session, checks)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Prepare the worker's database before the first test, so that PGOPTIONS is exported
    before any connection the application opens on its own: in every run where the plugin is
    configured, whether or not a test asks for its fixtures, so that no test writes to the
    database the settings name. Errors are kept for the tests."""
    if session.config.option.collectonly or not session.items:  # an xdist controller runs none
        return
    state = run_state(session.config)
    if state.settings.configured or any(
        need_of(item, state, item.get_closest_marker(MARKER)).opens_database
        for item in session.items
    ):
        with contextlib.suppress(DatabaseSetupError):  # each test that needs it reports it
            state.database.open()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The test's isolation comes before any fixture, so that it is undone after them all.

    Not ``tryfirst``: pytest sets fixtures up in its own implementation, which runs after this
    plugin's, while the hooks of the project's conftest files still run before it (they may
    wait for something the test's isolation depends on)."""
    begin(item, run_state(item.config))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    """The reset comes after every fixture of the test has finished its teardown."""
    try:
        return (yield)
    finally:
        end(item, run_state(item.config))


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = run_state(session.config)
    database = state.database
    opened = database.is_open
    problem = database.close()
    if problem:
        warnings.warn(UowWarning(problem), stacklevel=1)
    template = database.template
    results = {
        "database_used": opened,
        "reaped": database.reaped,
        "dropped_kept": database.dropped_kept,
        "kept": [database.name] if opened and state.settings.keep.value else [],
        "reset_seconds": state.reset_seconds,
        "ready_seconds": database.ready_seconds,
        "template": template.__dict__ if template is not None else None,
        "notes": state.settings.source.notes(),
    }
    hand_back(session.config, results, state.results.add)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = run_state(config)
    server_state = state.server.state() if state.server else None
    for line in summary_lines(state.settings, state.results, server_state):
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or not state.worker.is_controller:
        return
    checks = config.stash.get(MIGRATION_CHECKS, None)
    if checks is not None:
        checks.remove()
    if state.server is not None:
        state.server.stop()
