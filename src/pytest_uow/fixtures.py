"""The public fixtures: thin, documented, all reading the run state from ``config.stash``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from pytest_uow.database import WorkerDatabase
from pytest_uow.errors import DatabaseSetupError
from pytest_uow.sessions import rebound
from pytest_uow.state import run_state
from pytest_uow.strategies import STRATEGIES, Binding

PUBLIC_FIXTURES = frozenset(
    {
        "uow_database_url",
        "uow_schema",
        "uow_engine",
        "uow_connection",
        "uow_session_factory",
        "uow_session",
    }
)


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


@pytest.fixture
def _uow_binding(request: pytest.FixtureRequest) -> Iterator[Binding]:
    """The test's isolation, and the application's sessionmakers pointed at it."""
    state = run_state(request.config)
    database = _open_database(request.config)
    strategy = STRATEGIES[state.settings.strategy.value]
    with strategy.isolate(database) as binding, rebound(state.sessionmakers, binding):
        yield binding


@pytest.fixture(autouse=True)
def _uow_autouse(request: pytest.FixtureRequest) -> None:
    """Isolate every test when the application's sessionmakers are to be re-bound.

    Being autouse, it is set up before and torn down after the test's own fixtures.
    """
    if run_state(request.config).sessionmakers:
        request.getfixturevalue("_uow_binding")


@pytest.fixture
def uow_connection(_uow_binding: Binding) -> Connection:
    """The test's Connection; under ``rollback`` it is inside the transaction undone afterwards."""
    return _uow_binding.connection


@pytest.fixture
def uow_session_factory(_uow_binding: Binding) -> sessionmaker[Session]:
    """The ``sessionmaker`` to inject into a Unit of Work: ``SqlAlchemyUnitOfWork(factory)``."""
    options: dict[str, Any] = dict(_uow_binding.session_options)
    return sessionmaker(bind=_uow_binding.bind, **options)


@pytest.fixture
def uow_session(uow_session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One Session from ``uow_session_factory``, closed after the test."""
    with uow_session_factory() as session:
        yield session
