"""The plugin's hooks, registered by the entry point (``plugin.py``) once the project is seen to
use pytest-uow; the work lives in small modules. The run is decided here, once: settings, the
server, the isolation mode, the worker's namespace."""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import Any

import pytest
from sqlalchemy.exc import SQLAlchemyError

from pytest_uow.current import CURRENT
from pytest_uow.diagnosis import one_line
from pytest_uow.errors import DatabaseSetupError, UowWarning
from pytest_uow.migrations.items import MIGRATION_CHECKS, migration_check_items, once_per_run
from pytest_uow.namespace.opening import drop_kept, scratch_namespace
from pytest_uow.namespace.worker import WorkerNamespace
from pytest_uow.report import settings_lines, summary_lines
from pytest_uow.reset import begin, end, need_of, settle_escapes, where_the_data_was
from pytest_uow.scoped import scoped_data
from pytest_uow.server.address import ConfiguredServer, ServerAddress
from pytest_uow.server.run import RunServer
from pytest_uow.sessions.base import reached
from pytest_uow.settings.resolve import Settings, resolve, source_identity
from pytest_uow.state import STATE, RunState, run_state
from pytest_uow.strategies.registry import MARKER
from pytest_uow.workers import LOAD_SECONDS, RECEIVER, WORKER, XDIST_HOOKS, Worker, hand_back


def _address(settings: Settings, worker: Worker) -> ServerAddress:
    """The configured server, or the run's throwaway one: decided here, once."""
    url = settings.database_url
    if url.value is not None:
        return ConfiguredServer(url.value, url.source)
    return RunServer(worker.run_id, worker.controller_pid, settings.pg_bindir.value)


def pytest_configure(config: pytest.Config) -> None:
    settings = resolve(config)
    worker = config.stash[WORKER]
    address = _address(settings, worker)
    mode = settings.isolation.value
    prefix = settings.schema_prefix.value
    namespace = WorkerNamespace(
        address,
        worker,
        mode,
        prefix,
        settings.source,
        rebuild=settings.rebuild.value,
        keep=settings.keep.value,
        async_driver=settings.async_driver,
        lock_option=settings.lock_timeout.value.libpq_option,
    )
    state = RunState(settings=settings, worker=worker, address=address, namespace=namespace)
    config.stash[STATE] = state
    config.stash[RECEIVER] = state.results.add
    if settings.migrations is not None and settings.check_migrations.value:
        scratch = functools.partial(scratch_namespace, address, worker, mode, prefix)
        config.stash[MIGRATION_CHECKS] = once_per_run(
            worker.run_id, settings.migrations, settings.models, scratch
        )
    if settings.rebuild.value and worker.is_controller:
        settings.source.discard_cache()  # before any worker starts: the first one builds
    xdist_hooks = config.stash.get(XDIST_HOOKS, None)
    if xdist_hooks is not None and mode.uses_source_identity:
        xdist_hooks.source_identity = functools.partial(source_identity, settings)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """``uow_drop_kept``: before any worker starts."""
    state = run_state(session.config)
    settings = state.settings
    if not (settings.drop_kept.value and state.worker.is_controller):
        return
    try:
        dropped = drop_kept(
            state.address, state.worker, settings.isolation.value, settings.schema_prefix.value
        )
    except SQLAlchemyError as error:
        warnings.warn(
            UowWarning(f"pytest-uow could not drop the kept namespaces: {one_line(error)}"),
            stacklevel=1,
        )
    else:
        state.results.add({"dropped_kept": dropped})


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = run_state(config).settings
    return settings_lines(settings) if settings.configured else []


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """From collection on, in every process that runs tests (not an xdist controller), the
    application's engines on the configured database reach the worker's namespace: modules
    that connect as they are imported are routed too."""
    if not session.config.pluginmanager.has_plugin("dsession"):
        run_state(session.config).namespace.route_engines()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """The migration checks come first: before ``-k`` and the other plugins' selections, and
    ahead of the tests whose namespaces the migrations build."""
    checks = session.config.stash.get(MIGRATION_CHECKS, None)
    if checks is not None:
        items[:0] = migration_check_items(session, checks)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Prepare the worker's namespace before the first test, so that PGOPTIONS is exported
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
            state.namespace.open()


# Called by the entry point's hooks (``plugin.py``), which pytest registered before the
# project's conftest files, so that they run after the conftests' own.


def explain_failure(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> None:
    """A test that failed on a database error the plugin may have caused gets a
    ``pytest-uow`` section: on ``uow_lock_timeout``, who holds the lock and the test that
    left it; on a schema or table that is not there, what the plugin did to the connection."""
    if not report.failed or call.excinfo is None:
        return
    lines = where_the_data_was(item) if call.when == "call" else []
    error: BaseException | None = call.excinfo.value
    namespace = run_state(item.config).namespace
    while error is not None:
        line = namespace.failure_section(error)
        if line is not None:
            lines.insert(0, line)
            break
        error = error.__cause__ or error.__context__
    if lines:
        report.sections.append(("pytest-uow", "\n".join(lines)))


def around_fixture_set_up(fixturedef: Any, request: Any) -> contextlib.AbstractContextManager[None]:
    """A wider-scoped fixture's rows live as long as it does (``scoped.py``)."""
    config = request.config
    return scoped_data(config, run_state(config)).around_set_up(fixturedef, request)


def fixture_finalized(fixturedef: Any, request: Any) -> None:
    config = request.config
    scoped_data(config, run_state(config)).finalized(fixturedef)


def begin_test(item: pytest.Item) -> None:
    begin(item, run_state(item.config))


def end_test(item: pytest.Item) -> None:
    end(item, run_state(item.config))


def finish_session(session: pytest.Session) -> None:
    state = run_state(session.config)
    namespace = state.namespace
    unsettled = settle_escapes(session.config)  # the last watched test's
    if unsettled:
        warnings.warn(UowWarning(unsettled), stacklevel=1)
    opened = namespace.is_open
    template = namespace.template
    drivers = sorted(namespace.drivers_used)  # what closing lets go of
    problem = namespace.close()
    if problem:
        warnings.warn(UowWarning(problem), stacklevel=1)
    results = {
        "database_used": opened,
        "reached": sorted(reached()),
        "tests_started": CURRENT.started,
        "namespace_reached": CURRENT.reached_namespace,
        "elsewhere": sorted(CURRENT.elsewhere),
        "drivers": drivers,
        "reaped": namespace.reaped,
        "dropped_kept": namespace.dropped_kept,
        "kept": ([namespace.name] if opened and state.settings.keep.value else [])
        + namespace.kept_failed,
        "reset_seconds": state.reset_seconds,
        "ready_seconds": namespace.ready_seconds,
        "template": template.__dict__ if template is not None else None,
        "notes": state.settings.source.notes(),
        # Of the processes that ran tests (not an xdist controller, which collects none).
        "load_seconds": session.config.stash.get(LOAD_SECONDS, None) if session.items else None,
    }
    hand_back(session.config, results, state.results.add)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = run_state(config)
    for line in summary_lines(state.settings, state.results, state.address.state()):
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or not state.worker.is_controller:
        return
    checks = config.stash.get(MIGRATION_CHECKS, None)
    if checks is not None:
        checks.remove()
    state.address.stop()
