"""The public fixtures: thin and documented; a test's life is owned by ``reset.py``, driven by
the runtest hooks in ``plugin.py``."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:  # SQLAlchemy 2.0's; on 1.4 the factory is a sessionmaker(class_=AsyncSession)
    from sqlalchemy.ext.asyncio import async_sessionmaker

from pytest_uow.binding import Binding
from pytest_uow.compat import async_sessionmaker as make_async_sessionmaker
from pytest_uow.errors import UowError
from pytest_uow.live import IN_FLIGHT_WAIT, LiveServer, resolve_app
from pytest_uow.loops import AsyncTestSide, TestSession
from pytest_uow.reset import open_database
from pytest_uow.state import RunState, run_state


@pytest.fixture(scope="session")
def _uow_run(request: pytest.FixtureRequest) -> RunState:
    """The run's state, for the function fixtures: asking for ``request`` in each of them
    would cost a fixture definition per test."""
    return run_state(request.config)


def _binding(state: RunState) -> Binding:
    assert state.binding is not None, "a function fixture of pytest-uow always isolates its test"
    return state.binding


@pytest.fixture(scope="session")
def uow_schema(request: pytest.FixtureRequest) -> str:
    """Name of this worker's schema: ``<prefix>_<run>_<worker>`` (``public`` of the worker
    database under ``uow_isolation = database``)."""
    return open_database(run_state(request.config)).schema


@pytest.fixture(scope="session")
def uow_engine(request: pytest.FixtureRequest) -> Engine:
    """An Engine whose every connection uses the worker's namespace: the worker schema as its
    only ``search_path``, or the worker database."""
    return open_database(run_state(request.config)).engine


@pytest.fixture(scope="session")
def uow_database_url(request: pytest.FixtureRequest) -> str:
    """URL of the worker's isolated database: the worker schema's ``search_path`` included, or
    the worker database named.

    Hand it to code that builds its own engine, such as a server started in a child process.
    """
    return open_database(run_state(request.config)).url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def uow_worker_index(request: pytest.FixtureRequest) -> int:
    """This worker's number: 0, 1, ... (0 without xdist), for what a worker needs one of its
    own of, such as a child server's port (``8000 + uow_worker_index``)."""
    return run_state(request.config).worker.index


@pytest.fixture(scope="session")
def uow_dsn(request: pytest.FixtureRequest) -> str:
    """A plain libpq URL (``postgresql://...``) of the worker's isolated database, the
    worker schema's ``search_path`` included, for clients that are not SQLAlchemy: ``psql``,
    psycopg, a service in another language."""
    url = open_database(run_state(request.config)).url
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def uow_connection(_uow_run: RunState) -> Connection:
    """The test's Connection; under ``rollback`` it is inside the transaction undone afterwards."""
    return _binding(_uow_run).connection


# One sessionmaker per set of options, copied for each test: a new sessionmaker builds a new
# Session subclass, and SQLAlchemy sets up event dispatch for every new class, which cost
# about 0.5 ms a test (a third of the rollback strategy's whole per-test cost).
_MAKERS: dict[frozenset[tuple[str, Any]], sessionmaker[Session]] = {}


def _maker_for(binding: Binding) -> sessionmaker[Session]:
    key = frozenset(binding.session_options.items())
    if key not in _MAKERS:
        _MAKERS[key] = sessionmaker(**dict(binding.session_options))
    factory = copy.copy(_MAKERS[key])  # shares its Session class, not its settings
    factory.kw = {**factory.kw, "bind": binding.bind}
    return factory


@pytest.fixture
def uow_session_factory(_uow_run: RunState) -> sessionmaker[Session]:
    """The ``sessionmaker`` to inject into a Unit of Work: ``SqlAlchemyUnitOfWork(factory)``."""
    binding = _binding(_uow_run)
    if not binding.commits_are_real:
        return _maker_for(binding)
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
    with uow_session_factory() as session:
        yield session


class _HandedOutAsyncSession(AsyncSession):
    """An AsyncSession of ``uow_async_session_factory``: closed by the plugin after the test,
    on the test's event loop (a sync teardown cannot await ``close()``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        side = TestSession.current
        if side is not None:
            side.track(self)


def _async_side(binding: Binding) -> AsyncTestSide:
    assert binding.aio is not None, "a test that asks for an async fixture has an async side"
    return binding.aio


def _async_fixture(function: Callable[..., Any]) -> Any:
    """An async fixture that pytest-asyncio runs in strict mode too (where it runs only those
    it marked); anyio's plugin, and pytest-asyncio's auto mode, run any async fixture."""
    try:
        import pytest_asyncio
    except ImportError:
        return pytest.fixture(function)
    return pytest_asyncio.fixture(function)


def _async_factory(binding: Binding) -> async_sessionmaker[AsyncSession]:
    _async_side(binding)
    factory: async_sessionmaker[AsyncSession] = make_async_sessionmaker(
        class_=_HandedOutAsyncSession,
        sync_session_class=TestSession,
        expire_on_commit=False,  # as SQLAlchemy advises for asyncio: no implicit IO after commit
        **dict(binding.session_options),
    )
    return factory


@pytest.fixture
def uow_async_session_factory(_uow_run: RunState) -> async_sessionmaker[AsyncSession]:
    """The ``async_sessionmaker`` to inject into an async Unit of Work. Its sessions connect
    when they first need to, on the event loop running them: under ``rollback`` they share one
    connection whose transaction is rolled back after the test (``commit()`` releases a
    savepoint); under ``truncate`` and ``recreate`` they commit for real. Attributes are not
    expired on commit (``expire_on_commit=False``), as SQLAlchemy advises for asyncio."""
    return _async_factory(_binding(_uow_run))


@pytest.fixture
def uow_async_session(
    uow_async_session_factory: async_sessionmaker[AsyncSession],
) -> AsyncSession:
    """One AsyncSession from ``uow_async_session_factory``, closed after the test."""
    return uow_async_session_factory()


@_async_fixture
async def uow_async_connection(_uow_run: RunState) -> AsyncIterator[AsyncConnection]:
    """The test's ``AsyncConnection``, opened on the event loop running this fixture (give it
    the test's loop scope); under ``rollback`` it is inside the transaction undone afterwards,
    the one every async session of the test joins."""
    session = _async_factory(_binding(_uow_run))()
    yield await session.connection()


@pytest.fixture(scope="session")
def uow_live_app(request: pytest.FixtureRequest) -> object:
    """The application ``uow_live_server`` serves: what the ``uow_live_app`` setting names (a
    factory is called once, with no arguments). Override this fixture to hand an application
    of your own: ``@pytest.fixture(scope="session") def uow_live_app(): return create_app()``."""
    settings = run_state(request.config).settings
    spec = settings.live_app.value
    if spec is None:
        pytest.fail(
            "pytest-uow: uow_live_server has no application to serve: set uow_live_app "
            "(--uow-live-app, UOW_LIVE_APP) to module:attribute, or override the uow_live_app "
            "fixture",
            pytrace=False,
        )
    try:
        return resolve_app(
            settings.live_target, f"uow_live_app ({spec}, {settings.live_app.source})"
        )
    except UowError as error:
        message = f"pytest-uow: {error}"
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def _uow_live(uow_live_app: object) -> Iterator[LiveServer]:
    """The worker's one live server, for every test that asks for it."""
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
    binding = _binding(_uow_run)
    yield _uow_live
    if not _uow_live.wait_idle():
        binding.refuse(
            f"a request to the live server was still being served {IN_FLIGHT_WAIT:.0f} s after "
            "the test ended; its query was cancelled"
        )
        _uow_run.database.cancel_queries_of(binding.connection)
        # The request ends with the cancelled query's error: let it finish with the connection
        # before the reset uses it.
        _uow_live.wait_idle()
