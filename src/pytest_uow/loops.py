"""The worker's namespace as async code reaches it: an async engine per event loop, and the test's
connection on it, opened on the loop that first needs them.

Async connections belong to the event loop they were opened on, and a test's loop may live for
one test (pytest-asyncio's default) or the whole session (``loop_scope="session"``, anyio); the
plugin cannot tell beforehand, and must open nothing on a loop the test does not run on. So
nothing is opened until a session needs a connection: inside the test's running loop, in
SQLAlchemy's greenlet, through the sessions' ``get_bind``. What was opened is released on that
same loop: after the test if the loop lives on (it is idle between tests), or, if the loop closes
first, by a task that waits on it and is cancelled, and so runs its cleanup, when the loop's
runner shuts down (``asyncio.Runner``, which pytest-asyncio, anyio and ``asyncio.run`` use).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from pytest_uow.errors import UowError
from pytest_uow.savepoints import join_sessions, release

ASYNC_DRIVERS = ("asyncpg", "psycopg_async")
_ANOTHER_OPERATION = "another operation is in progress"
CONCURRENT_USE = (
    "two tasks used the test's one connection at once; under the rollback strategy every "
    "session of a test shares one connection: give the test @pytest.mark.uow(strategy="
    '"truncate") to let each task have a connection of its own'
)


def async_engine_args(url: str | URL, driver: str = "asyncpg") -> tuple[URL, dict[str, Any]]:
    """``url`` (``uow_database_url``, say) for an async ``driver``, and the connect arguments
    it needs: ``create_async_engine(url, connect_args=connect_args)`` then reaches the worker's
    namespace. psycopg is libpq: the URL serves as it is. asyncpg ignores libpq's ``options``
    and ``PGOPTIONS``, and takes neither ``application_name`` nor ``connect_timeout``: they
    become its ``server_settings`` and ``timeout``."""
    url = make_url(url).set(drivername=f"postgresql+{driver}")
    if driver != "asyncpg":
        return url, {}
    query: dict[str, str | tuple[str, ...]] = dict(url.query)
    settings: dict[str, str] = {}
    options = query.pop("options", "")
    for option in (options if isinstance(options, str) else " ".join(options)).split():
        name, _, value = option.removeprefix("-c").partition("=")
        if name and value:
            settings[name] = value
    application_name = query.pop("application_name", ())
    if isinstance(application_name, str):
        settings["application_name"] = application_name
    connect_args: dict[str, Any] = {"server_settings": settings}
    timeout = query.pop("connect_timeout", ())
    if isinstance(timeout, str):
        connect_args["timeout"] = float(timeout)
    return url.set(query=query), connect_args


_OTHER_LOOP_WAIT = 10.0  # seconds the end of a test waits for a rollback on another thread's loop


def _loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _OnLoop:
    """What the worker opened on one event loop: its engine, and the test connection kept on it
    from test to test."""

    def __init__(self, loop: asyncio.AbstractEventLoop, engine: AsyncEngine) -> None:
        self.loop = loop
        self.engine = engine
        self.connection: AsyncConnection | None = None
        self.connecting = False  # a task is opening ``connection``
        self.engines_by_isolation: dict[str, AsyncEngine] = {}
        self._stop = asyncio.Event()
        # Strongly held: the loop keeps only a weak reference to its tasks.
        self.guard = loop.create_task(self._guard())

    async def _guard(self) -> None:
        try:
            await self._stop.wait()
        finally:
            await self.release()

    async def end_test(self, sessions: list[AsyncSession]) -> None:
        """Close the sessions the plugin handed out, roll back the test's transaction; the
        connection stays for the next test."""
        for session in sessions:
            with contextlib.suppress(SQLAlchemyError):
                await session.close()
        connection = self.connection
        if connection is not None and connection.in_transaction():
            try:
                await connection.rollback()
            except SQLAlchemyError:
                await connection.invalidate()
                self.connection = None

    async def release(self) -> None:
        """Close the kept connection, whatever its state, and every connection of the engines'
        pools (the loop's end; or a worker database about to be replaced: the next use
        connects to the new one)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:
                # Left busy or broken by the test (tasks still using it as the loop shuts
                # down): invalidated outside SQLAlchemy's greenlet, the driver terminates the
                # connection at once, with nothing to wait for.
                with contextlib.suppress(Exception):
                    sync_connection = connection.sync_connection
                    if sync_connection is not None:
                        sync_connection.invalidate()
        for engine in [self.engine, *self.engines_by_isolation.values()]:
            await engine.dispose()

    def stop(self) -> None:
        self._stop.set()


class AsyncWorker:
    """The worker's async engines, one per event loop, all on the worker's namespace."""

    def __init__(self, worker_url: URL, driver: str) -> None:
        self.driver = driver
        self._url, self._connect_args = async_engine_args(worker_url, driver)
        self._loops: dict[asyncio.AbstractEventLoop, _OnLoop] = {}

    def on_running_loop(self) -> _OnLoop:
        """The state of the running loop, opened on it now if this is its first need."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UowError(
                "pytest-uow's async sessions need a running event loop: use them in an async "
                "test (pytest-asyncio or anyio)"
            ) from None
        state = self._loops.get(loop)
        if state is None:
            for stale in [old for old in self._loops if old.is_closed()]:
                del self._loops[stale]
            engine = create_async_engine(self._url, connect_args=self._connect_args)
            _explain_concurrent_use(engine.sync_engine)
            state = self._loops[loop] = _OnLoop(loop, engine)
        return state

    def release_connections(self) -> None:
        """Before the worker database is replaced (``recreate``): every connection to it
        closed, on its loop (a loop that closed took its connections with it)."""
        for loop, state in list(self._loops.items()):
            if not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(state.release())

    def close(self) -> None:
        """The worker's end: release what is open on loops that are still there."""
        for loop, state in list(self._loops.items()):
            if not loop.is_closed() and not loop.is_running():
                state.stop()
                loop.run_until_complete(state.guard)
        self._loops.clear()


def _explain_concurrent_use(engine: Engine) -> None:
    """asyncpg's "another operation is in progress" becomes the line that says what to do."""

    @event.listens_for(engine, "handle_error")
    def explain(context: Any) -> None:
        if _ANOTHER_OPERATION in str(context.original_exception):
            raise UowError(CONCURRENT_USE) from context.original_exception


class AsyncTestSide:
    """One test's async side: under ``rollback`` one connection, in a transaction rolled back
    after the test, that every async session of the test joins; under real commits, the
    worker's async engine of the loop."""

    def __init__(
        self,
        worker: AsyncWorker,
        real_commits: bool,
        isolation_level_of: Callable[[object], str | None],
    ) -> None:
        self._worker = worker
        self.real_commits = real_commits
        self._isolation_level_of = isolation_level_of
        self._loop: _OnLoop | None = None
        self._sessions: weakref.WeakSet[AsyncSession] = weakref.WeakSet()
        # Per task, the sessions with a transaction on the test's one connection (rollback).
        # A task that is done (a fixture's setup) runs nothing at the same time as another.
        self._open_by_task: dict[asyncio.Task[Any] | None, set[int]] = {}

    def _state(self) -> _OnLoop:
        state = self._worker.on_running_loop()
        if self._loop is None:
            self._loop = state
        elif self._loop is not state:
            raise UowError(
                "the test's async sessions ran on two event loops: a fixture and the test run "
                "on different loops (give them the same loop scope: pytest-asyncio's "
                "loop_scope, or asyncio_default_fixture_loop_scope), or the test and the live "
                "server (use the truncate strategy for that test)"
            )
        return state

    def bind(self, original_bind: object = None) -> Connection | Engine:
        """What a session binds to, on the running loop (called in SQLAlchemy's greenlet)."""
        state = self._state()
        if self.real_commits:
            level = self._isolation_level_of(original_bind)
            if level is None:
                return state.engine.sync_engine
            if level not in state.engines_by_isolation:
                state.engines_by_isolation[level] = state.engine.execution_options(
                    isolation_level=level
                )
            return state.engines_by_isolation[level].sync_engine
        connection = state.connection
        if connection is None or connection.closed or connection.invalidated:
            # Connecting awaits: another task asking meanwhile would open a second connection,
            # one that nobody rolls back.
            if state.connecting:
                raise UowError(CONCURRENT_USE)
            state.connecting = True
            try:
                opened = state.engine.sync_engine.connect()
            finally:
                state.connecting = False
            connection = state.connection = AsyncConnection(state.engine, opened)
        sync_connection = connection.sync_connection
        assert sync_connection is not None
        if not sync_connection.in_transaction():
            sync_connection.begin()
            join_sessions(sync_connection)
        return sync_connection

    def session_began(self, session: Session) -> None:
        """Under rollback every session of the test shares one connection: a second task
        beginning on it while another task's session is in a transaction would interleave
        their statements (and their savepoints) on it."""
        if self.real_commits:
            return
        task = asyncio.current_task()
        if any(
            other is not task and open_ and other is not None and not other.done()
            for other, open_ in self._open_by_task.items()
        ):
            raise UowError(CONCURRENT_USE)
        self._open_by_task.setdefault(task, set()).add(id(session))

    def session_ended(self, session: Session) -> None:
        for open_ in self._open_by_task.values():
            open_.discard(id(session))

    def track(self, session: AsyncSession) -> None:
        """A session the plugin handed out: closed after the test, on its loop."""
        self._sessions.add(session)

    def end(self) -> None:
        """After the test: its transaction rolled back on its loop, if the loop is still there
        (if it closed, its guard did that already)."""
        state, self._loop = self._loop, None
        if state is not None and state.connection is not None:
            sync_connection = state.connection.sync_connection
            if sync_connection is not None:
                release(sync_connection)
        if state is None or state.loop.is_closed():
            return
        ending = state.end_test(list(self._sessions))
        if state.loop.is_running():
            if _loop_of_this_thread() is state.loop:
                ending.close()
                raise UowError(
                    "pytest-uow cannot roll back the test's async connection: its event loop "
                    "is still running after the test"
                )
            # The loop of another thread (a live server's): the rollback is run there.
            asyncio.run_coroutine_threadsafe(ending, state.loop).result(_OTHER_LOOP_WAIT)
            return
        state.loop.run_until_complete(ending)


class TestSession(Session):
    """The sync half of every async session pytest-uow points at a test: its bind is the test's,
    looked up when it first needs one, on the loop running it."""

    __test__ = False
    current: AsyncTestSide | None = None  # the running test's, set by the plugin
    original_bind: object = None  # the application's own engine, for its isolation level

    def get_bind(self, *args: Any, **kwargs: Any) -> Connection | Engine:
        side = TestSession.current
        if side is None:
            raise UowError(
                "this async session outlived its test: pytest-uow binds async sessions only "
                "while a test runs"
            )
        return side.bind(self.original_bind)


@event.listens_for(TestSession, "after_begin")
def _began(session: Session, transaction: Any, connection: Connection) -> None:
    if isinstance(session, TestSession) and TestSession.current is not None:
        TestSession.current.session_began(session)


@event.listens_for(TestSession, "after_transaction_end")
def _ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None and TestSession.current is not None:
        TestSession.current.session_ended(session)
