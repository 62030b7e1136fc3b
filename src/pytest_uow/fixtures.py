"""The public fixtures: thin, documented, all reading the run state from ``config.stash``."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pytest_uow.database import WorkerDatabase
from pytest_uow.errors import DatabaseSetupError, UowError, UowWarning
from pytest_uow.leaks import leak_report
from pytest_uow.locks import Backend, describe_backends, is_lock_timeout
from pytest_uow.sessions import rebound
from pytest_uow.state import run_state
from pytest_uow.strategies import MARKER, STRATEGIES, Binding, strategy_from_marker

_FUNCTION_FIXTURES = frozenset({"uow_connection", "uow_session_factory", "uow_session"})
PUBLIC_FIXTURES = _FUNCTION_FIXTURES | {"uow_database_url", "uow_schema", "uow_engine"}


def _open_database(config: pytest.Config) -> WorkerDatabase:
    database = run_state(config).database
    try:
        database.open()
    except DatabaseSetupError as error:
        message = str(error)
    else:
        return database
    pytest.fail(message, pytrace=False)  # outside the except: one line, no chained traceback


@pytest.fixture(scope="session")
def uow_schema(request: pytest.FixtureRequest) -> str:
    """Name of this worker's schema: ``<prefix>_<run>_<worker>``."""
    return _open_database(request.config).schema


@pytest.fixture(scope="session")
def uow_engine(request: pytest.FixtureRequest) -> Engine:
    """An Engine whose every connection has the worker schema as its only ``search_path``."""
    return _open_database(request.config).engine


@pytest.fixture(scope="session")
def uow_database_url(request: pytest.FixtureRequest) -> str:
    """URL of the worker's isolated database, ``search_path`` included.

    Hand it to code that builds its own engine, such as a server started in a child process.
    """
    return _open_database(request.config).url.render_as_string(hide_password=False)


def _strategy_name(item: pytest.Item, default: str) -> str:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return default
    try:
        return strategy_from_marker(marker.args, marker.kwargs) or default
    except ValueError as error:
        message = f"@pytest.mark.{MARKER} on {item.nodeid}: {error}"
    pytest.fail(message, pytrace=False)


def _warn_about_ended(backends: list[Backend], test: str, database: WorkerDatabase) -> None:
    if backends:
        warnings.warn(
            UowWarning(
                f"pytest-uow terminated {len(backends)} connection(s) that {test} left holding "
                f"locks on worker schema {database.schema}, so that the reset could run "
                f"({describe_backends(backends)}): close connections, "
                "sessions and threads in the test or its fixtures"
            ),
            stacklevel=1,
        )


@pytest.fixture
def _uow_binding(request: pytest.FixtureRequest) -> Iterator[Binding]:
    """The test's isolation, and the application's sessionmakers pointed at it.

    Its teardown, the reset, comes after the test's own fixtures have finished theirs (it is
    requested by the autouse fixture below) and names the test if it fails. With
    ``uow_check_leaks`` on, the rows the test left behind are looked for after the reset.
    """
    state = run_state(request.config)
    strategy = STRATEGIES[_strategy_name(request.node, state.settings.strategy.value)]
    database = _open_database(request.config)
    check_leaks = state.settings.check_leaks
    test = request.node.nodeid
    message = None
    with contextlib.ExitStack() as isolation:
        try:
            if check_leaks.value:
                database.leak_detector.start()
            binding = isolation.enter_context(strategy.isolate(database))
            isolation.enter_context(rebound(state.sessionmakers, binding))
        except SQLAlchemyError as error:
            message = database.explain(error, f"could not isolate {test} ({strategy.name})")
        if message is None:
            yield binding
            reset_started = time.perf_counter()
            try:
                isolation.close()
            except (SQLAlchemyError, UowError) as error:
                database.pristine = False
                message = _reset_failure(database, error, test, strategy.name)
            else:
                state.record_reset(strategy.name, time.perf_counter() - reset_started)
            _warn_about_ended(database.take_ended_backends(), test, database)
    if message is None and check_leaks.value:
        message = _leaks_found(database, test, strategy.name, check_leaks.source)
    if message is not None:
        pytest.fail(message, pytrace=False)  # outside the except: one line, no traceback


def _leaks_found(database: WorkerDatabase, test: str, strategy: str, source: str) -> str | None:
    """The one line reporting the rows ``test`` left behind, if any; rows left in the worker
    schema are removed, so that the tests after it start empty."""
    try:
        leaks = database.leak_detector.find()
        if any(leak.in_worker_schema for leak in leaks):
            database.cleaner.clean()
            database.pristine = True
    except SQLAlchemyError as error:
        return database.explain(error, f"could not check {test} for leaks")
    if not leaks:
        return None
    return (
        f"pytest-uow found rows that {test} left behind (uow_check_leaks, {source}): "
        + leak_report(leaks, database.schema, strategy)
    )


def _reset_failure(database: WorkerDatabase, error: Exception, test: str, strategy: str) -> str:
    failed = f"could not reset the worker schema after {test} ({strategy})"
    if isinstance(error, UowError):
        return f"pytest-uow {failed}: {error}"
    assert isinstance(error, SQLAlchemyError)
    message = database.explain(error, failed)
    if is_lock_timeout(error):
        message += (
            "; a connection, session or thread the test opened still holds a lock on it: "
            "close it in the test or its fixtures"
        )
    return message


@pytest.fixture(autouse=True)
def _uow_autouse(request: pytest.FixtureRequest) -> None:
    """Set up the test's isolation first, so that it is torn down last.

    Applies to tests that use a function-scoped fixture of the plugin or carry the marker, and
    to every test when the application's sessionmakers are to be re-bound. A test that uses only
    the session-scoped fixtures fails at once, with the one reason, once the server is lost.
    """
    if (
        run_state(request.config).sessionmakers
        or not _FUNCTION_FIXTURES.isdisjoint(request.fixturenames)
        or request.node.get_closest_marker(MARKER) is not None
    ):
        request.getfixturevalue("_uow_binding")
    elif not PUBLIC_FIXTURES.isdisjoint(request.fixturenames):
        _open_database(request.config)


@pytest.fixture
def uow_connection(_uow_binding: Binding) -> Connection:
    """The test's Connection; under ``rollback`` it is inside the transaction undone afterwards."""
    return _uow_binding.connection


@pytest.fixture
def uow_session_factory(_uow_binding: Binding) -> sessionmaker[Session]:
    """The ``sessionmaker`` to inject into a Unit of Work: ``SqlAlchemyUnitOfWork(factory)``."""
    options: dict[str, Any] = dict(_uow_binding.session_options)
    factory = sessionmaker(bind=_uow_binding.bind, **options)
    if isinstance(_uow_binding.bind, Engine):  # real commits: close sessions before the reset

        @event.listens_for(factory, "after_begin")
        def track(session: Session, transaction: object, connection: Connection) -> None:
            _uow_binding.sessions.add(session)

    return factory


@pytest.fixture
def uow_session(uow_session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One Session from ``uow_session_factory``, closed after the test."""
    with uow_session_factory() as session:
        yield session
