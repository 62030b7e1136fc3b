"""The pytest11 entry point ``uow``: hooks and wiring only; the work lives in small modules."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import pytest

from pytest_uow.config import add_options, load_sessionmaker, resolve
from pytest_uow.database import WorkerDatabase
from pytest_uow.errors import DatabaseSetupError, UowWarning
from pytest_uow.fixtures import (
    PUBLIC_FIXTURES,
    _uow_autouse,
    _uow_binding,
    uow_connection,
    uow_database_url,
    uow_engine,
    uow_schema,
    uow_session,
    uow_session_factory,
)
from pytest_uow.server import RunServer
from pytest_uow.state import STATE, RunState, reset_summary, run_state
from pytest_uow.strategies import MARKER, MARKER_HELP
from pytest_uow.workers import Worker, XdistHooks, identify

__all__ = [
    "_uow_autouse",
    "_uow_binding",
    "uow_connection",
    "uow_database_url",
    "uow_engine",
    "uow_schema",
    "uow_session",
    "uow_session_factory",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    settings = resolve(config)
    worker = identify(config)
    server = None
    if settings.url.value is None:
        server = RunServer(worker.run_id, worker.controller_pid, settings.pg_bindir.value)
    config.stash[STATE] = RunState(
        settings=settings,
        worker=worker,
        server=server,
        database=WorkerDatabase(settings, worker, server),
        sessionmakers=tuple(load_sessionmaker(name) for name in settings.sessionmakers.value),
    )
    if config.pluginmanager.hasplugin("xdist") and _is_controller(worker):
        config.pluginmanager.register(_ControllerHooks(worker, config), "uow-xdist")


def _is_controller(worker: Worker) -> bool:
    return worker.name == "main"


class _ControllerHooks(XdistHooks):
    """xdist hooks of the controller: identity out to workers, kept schema names back."""

    def __init__(self, controller: Worker, config: pytest.Config) -> None:
        super().__init__(controller)
        self._config = config

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", {})
        state = run_state(self._config)
        if output.get("uow_kept_schema"):
            state.kept_schemas.append(output["uow_kept_schema"])
        state.reaped_schemas.extend(output.get("uow_reaped", []))
        for strategy, seconds in output.get("uow_reset_seconds", {}).items():
            state.reset_seconds.setdefault(strategy, []).extend(seconds)


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = run_state(config).settings
    if not settings.configured:
        return []
    parts = []
    for label, setting in settings.all.items():
        value = setting.value
        if label == "server":
            value = value.render_as_string(hide_password=True) if value else "throwaway"
        elif isinstance(value, bool):
            value = "on" if value else "off"
        elif isinstance(value, tuple):
            value = ", ".join(value) or "none"
        elif value is None:
            value = "discovered" if label == "pg bindir" else "none"
        parts.append(f"{label}={value} ({setting.source})")
    return ["uow: " + "; ".join(parts)]


def _needs_database(item: pytest.Item, state: RunState) -> bool:
    return (
        bool(state.sessionmakers)
        or item.get_closest_marker(MARKER) is not None
        or not PUBLIC_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Prepare the worker schema before the first test, so that PGOPTIONS is exported before
    any connection the application opens on its own. Errors are kept for the tests to report."""
    if session.config.option.collectonly:
        return
    state = run_state(session.config)
    if any(_needs_database(item, state) for item in session.items):
        # A failure is kept by the database and reported by each test that needs it.
        with contextlib.suppress(DatabaseSetupError):
            state.database.open()


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = run_state(session.config)
    opened = state.database.is_open
    problem = state.database.close()
    if problem:
        warnings.warn(UowWarning(problem), stacklevel=1)
    kept = opened and state.settings.keep.value
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["uow_reset_seconds"] = state.reset_seconds
        workeroutput["uow_reaped"] = state.database.reaped
        if kept:
            workeroutput["uow_kept_schema"] = state.database.schema
    else:
        state.reaped_schemas.extend(state.database.reaped)
        if kept:
            state.kept_schemas.append(state.database.schema)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = run_state(config)
    server_state = state.server.state() if state.server else None
    if server_state is not None:
        terminalreporter.write_line(
            f"uow: throwaway PostgreSQL {server_state.version} ({server_state.origin}) "
            f"started in {server_state.start_seconds:.2f} s"
        )
    if state.reaped_schemas:
        terminalreporter.write_line(
            f"uow: reaped {len(state.reaped_schemas)} worker schema(s) left by runs that died: "
            + ", ".join(sorted(state.reaped_schemas))
        )
    for line in reset_summary(state.reset_seconds):
        terminalreporter.write_line(line)
    if state.kept_schemas:
        where = "on the throwaway server, which is removed now" if server_state else "kept"
        terminalreporter.write_line(
            f"uow: worker schemas {', '.join(sorted(state.kept_schemas))} {where}"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None and state.server is not None and _is_controller(state.worker):
        state.server.stop()
