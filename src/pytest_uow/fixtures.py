"""The public fixtures: thin and documented; a test's life is owned by ``reset.py``, driven by
the runtest hooks in ``hooks.py``.

This module is part of the entry point, loaded in every pytest run of the environment, so it
imports nothing heavy: what a fixture needs is imported when the fixture first runs, by which
time the plugin is loaded (and has put the run's state in the stash).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from pytest_uow.current import CURRENT
from pytest_uow.versions import unsupported_sqlalchemy

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
    from sqlalchemy.orm import Session, scoped_session, sessionmaker

    from pytest_uow.binding import Binding
    from pytest_uow.live import LiveServer
    from pytest_uow.namespace.worker import WorkerNamespace
    from pytest_uow.state import RunState


def _state(config: pytest.Config) -> RunState:
    from pytest_uow.state import STATE

    state = config.stash.get(STATE, None)
    if state is None:
        message = unsupported_sqlalchemy() or (
            "the plugin was not loaded for this run: no uow_* setting is set and no collected "
            "test asks for a uow fixture or the uow marker (a fixture requested through "
            "request.getfixturevalue is not seen at collection); set any setting, e.g. "
            'uow_strategy = "rollback" in [tool.pytest.ini_options]'
        )
        pytest.fail(f"pytest-uow cannot serve this fixture: {message}", pytrace=False)
    return state


def _namespace(config: pytest.Config) -> WorkerNamespace:
    from pytest_uow.reset import open_database

    namespace = open_database(_state(config))
    CURRENT.note_reached()  # the test asked the plugin for its namespace
    return namespace


@pytest.fixture(scope="session")
def _uow_run(request: pytest.FixtureRequest) -> RunState:
    """The run's state, for the function fixtures: asking for ``request`` in each of them
    would cost a fixture definition per test."""
    return _state(request.config)


def _binding() -> Binding:
    binding = CURRENT.binding
    if binding is None:  # asked for at run time (request.getfixturevalue): isolated now
        CURRENT.needs_isolation()
        binding = CURRENT.binding
    assert binding is not None, "a function fixture of pytest-uow always isolates its test"
    CURRENT.note_reached()
    return binding


@pytest.fixture(scope="session")
def uow_schema(request: pytest.FixtureRequest) -> str:
    """Name of this worker's schema: ``<prefix>_<run>_<worker>`` (``public`` of the worker
    database under ``uow_isolation = database``)."""
    return _namespace(request.config).schema


@pytest.fixture(scope="session")
def uow_engine(request: pytest.FixtureRequest) -> Engine:
    """An Engine whose every connection uses the worker's namespace: the worker schema as its
    only ``search_path``, or the worker database."""
    return _namespace(request.config).engines.engine


@pytest.fixture(scope="session")
def uow_database_url(request: pytest.FixtureRequest) -> str:
    """URL of the worker's isolated database: the worker schema's ``search_path`` included, or
    the worker database named.

    Hand it to code that builds its own engine, such as a server started in a child process.
    """
    return _namespace(request.config).url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def uow_worker_index(request: pytest.FixtureRequest) -> int:
    """This worker's number: 0, 1, ... (0 without xdist), for what a worker needs one of its
    own of, such as a child server's port (``8000 + uow_worker_index``)."""
    from pytest_uow.workers import WORKER

    return request.config.stash[WORKER].index


@pytest.fixture(scope="session")
def uow_dsn(request: pytest.FixtureRequest) -> str:
    """A plain libpq URL (``postgresql://...``) of the worker's isolated database, the
    worker schema's ``search_path`` included, for clients that are not SQLAlchemy: ``psql``,
    psycopg, a service in another language."""
    url = _namespace(request.config).url
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def uow_connection(_uow_run: RunState) -> Connection:
    """The test's Connection; under ``rollback`` it is inside the transaction undone afterwards."""
    return _binding().connection


# One sessionmaker per set of options, copied for each test: a new sessionmaker builds a new
# Session subclass, and SQLAlchemy sets up event dispatch for every new class, which cost
# about 0.5 ms a test (a third of the rollback strategy's whole per-test cost).
_MAKERS: dict[frozenset[tuple[str, Any]], sessionmaker[Session]] = {}


def _maker_for(binding: Binding) -> sessionmaker[Session]:
    key = frozenset(binding.session_options.items())
    if key not in _MAKERS:
        from sqlalchemy.orm import sessionmaker

        _MAKERS[key] = sessionmaker(**dict(binding.session_options))
    factory = copy.copy(_MAKERS[key])  # shares its Session class, not its settings
    factory.kw = {**factory.kw, "bind": binding.bind}
    return factory


@pytest.fixture
def uow_session_factory(_uow_run: RunState) -> sessionmaker[Session]:
    """The ``sessionmaker`` to inject into a Unit of Work: ``SqlAlchemyUnitOfWork(factory)``."""
    binding = _binding()
    if not binding.commits_are_real:
        return _maker_for(binding)
    from sqlalchemy import event
    from sqlalchemy.orm import sessionmaker

    # Real commits: a class of its own, whose sessions are closed before the reset (they may
    # hold locks); its listener goes with it.
    factory = sessionmaker(bind=binding.bind, **dict(binding.session_options))

    @event.listens_for(factory, "after_begin")
    def track(session: Session, transaction: object, connection: Connection) -> None:
        binding.track(session)

    return factory


@pytest.fixture
def uow_session(uow_session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One Session from ``uow_session_factory`` (yours, if you override it), closed after the
    test."""
    from pytest_uow.binding import close_quietly

    session = uow_session_factory()
    try:
        yield session
    finally:
        close_quietly(session.close)


@pytest.fixture(scope="session")
def uow_scoped_session(_uow_run: RunState) -> Iterator[scoped_session[Session]]:
    """A ``scoped_session`` for fixtures of any scope: what a class-, module-, package- or
    session-scoped fixture writes through it is seen by every test in that scope and removed
    when the fixture is finalized; what a test writes through it goes after the test. Its
    session follows the running test's isolation, and is removed at the end of every test;
    objects keep their loaded attributes after a commit (``expire_on_commit=False``), so that
    what a wider-scoped fixture returns can still be read by the tests after it."""
    from sqlalchemy.orm import Session, scoped_session, sessionmaker

    from pytest_uow.errors import UowError
    from pytest_uow.savepoints import JOIN_OPTIONS

    class RunningTestSession(Session):
        """Binds to the running test's isolation (given it now, if it had none)."""

        def get_bind(self, *args: Any, **kwargs: Any) -> Any:
            CURRENT.needs_isolation()
            binding = CURRENT.binding
            if binding is None:
                raise UowError(
                    "uow_scoped_session was used outside a test's isolation (a fixture's "
                    "teardown after its test ended, or a thread after it): use it while a test runs"
                )
            return binding.bind

    registry = scoped_session(
        sessionmaker(class_=RunningTestSession, expire_on_commit=False, **JOIN_OPTIONS)
    )

    def remove_after_test(nodeid: str | None) -> None:
        if nodeid is None:
            registry.remove()

    CURRENT.listen(remove_after_test)
    yield registry
    CURRENT.stop_listening(remove_after_test)
    registry.remove()


def _async_factory(binding: Binding) -> async_sessionmaker[AsyncSession]:
    from pytest_uow.aio.test_side import handed_out_async_sessionmaker

    assert binding.aio is not None, "a test that asks for an async fixture has an async side"
    factory: async_sessionmaker[AsyncSession] = handed_out_async_sessionmaker(
        binding.session_options
    )
    return factory


@pytest.fixture
def uow_async_session_factory(_uow_run: RunState) -> async_sessionmaker[AsyncSession]:
    """The ``async_sessionmaker`` to inject into an async Unit of Work. Its sessions connect
    when they first need to, on the event loop running them: under ``rollback`` they share one
    connection whose transaction is rolled back after the test (``commit()`` releases a
    savepoint); under ``truncate`` and ``recreate`` they commit for real. Attributes are not
    expired on commit (``expire_on_commit=False``), as SQLAlchemy advises for asyncio."""
    return _async_factory(_binding())


@pytest.fixture
def uow_async_session(
    uow_async_session_factory: async_sessionmaker[AsyncSession],
) -> AsyncSession:
    """One AsyncSession from ``uow_async_session_factory``, closed after the test."""
    return uow_async_session_factory()


async def _uow_async_connection(_uow_run: RunState) -> AsyncIterator[AsyncConnection]:
    """The test's ``AsyncConnection``, opened on the event loop running this fixture (give it
    the test's loop scope); under ``rollback`` it is inside the transaction undone afterwards,
    the one every async session of the test joins."""
    session = _async_factory(_binding())()
    yield await session.connection()


def async_connection_fixture(fixture: Callable[..., Any]) -> ModuleType:
    """A plugin holding ``uow_async_connection``, an async fixture declared once pytest is
    configured, with the decorator of the async plugin in use: pytest-asyncio's where it is
    loaded (its strict mode runs only the async fixtures it marked), else pytest's own (anyio's
    plugin, and pytest-asyncio's auto mode, run any async fixture). Importing pytest-asyncio for
    it in every run would cost 40 ms where pytest-asyncio is not in use."""
    holder = ModuleType("pytest_uow.fixtures.async_connection")
    holder.uow_async_connection = fixture(name="uow_async_connection")(_uow_async_connection)  # type: ignore[attr-defined]
    return holder


@pytest.fixture(scope="session")
def uow_live_app(request: pytest.FixtureRequest) -> object:
    """The application ``uow_live_server`` serves: what the ``uow_live_app`` setting names (a
    factory is called once, with no arguments). Override this fixture to hand an application
    of your own: ``@pytest.fixture(scope="session") def uow_live_app(): return create_app()``."""
    from pytest_uow.errors import UowError
    from pytest_uow.live import resolve_app

    settings = _state(request.config).settings
    spec = settings.live_app.value
    if spec is None:
        pytest.fail(
            "pytest-uow: uow_live_server has no application to serve: set uow_live_app "
            "(--uow-live-app, UOW_LIVE_APP) to module:attribute, or override the uow_live_app "
            "fixture",
            pytrace=False,
        )
    from pytest_uow.loading import load_object

    where = f"uow_live_app ({spec}, {settings.live_app.source})"
    try:
        return resolve_app(load_object(spec), where)
    except ValueError as error:  # imported now, when a test first uses the live server
        message = f"pytest-uow: {where}: {error}"
    except UowError as error:
        message = f"pytest-uow: {error}"
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def _uow_live(uow_live_app: object) -> Iterator[LiveServer]:
    """The worker's one live server, for every test that asks for it."""
    from pytest_uow.errors import UowError
    from pytest_uow.live import LiveServer

    try:
        server = LiveServer(uow_live_app)
    except UowError as error:
        message = f"pytest-uow: {error}"
    else:
        yield server
        server.stop()
        return
    pytest.fail(message, pytrace=False)


@pytest.fixture
def uow_live_server(_uow_live: LiveServer, _uow_run: RunState) -> Iterator[LiveServer]:
    """The application served over HTTP in a thread of this worker (``.url``, ``str()``):
    every request runs inside this test's isolation. A request still in flight when the test
    ends is waited for, then reported, and the query it runs is cancelled so that the reset
    never waits on it."""
    from pytest_uow.live import IN_FLIGHT_WAIT

    binding = _binding()
    yield _uow_live
    if not _uow_live.wait_idle():
        binding.refuse(
            f"a request to the live server was still being served {IN_FLIGHT_WAIT:.0f} s after "
            "the test ended; its query was cancelled"
        )
        _uow_run.namespace.engines.cancel_queries_of(binding.connection)
        # The request ends with the cancelled query's error: let it finish with the connection
        # before the reset uses it.
        _uow_live.wait_idle()
