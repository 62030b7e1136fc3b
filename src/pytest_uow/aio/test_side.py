"""One test's async side: nothing is opened until a session needs a connection, inside the test's
running loop, in SQLAlchemy's greenlet, through the sessions' ``get_bind``; what it opened is
rolled back on that loop after the test (``engines.py`` keeps what outlives the test)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from pytest_uow.aio.engines import AsyncWorker, OnLoop, concurrent_use
from pytest_uow.compat import async_sessionmaker as make_async_sessionmaker
from pytest_uow.current import CURRENT
from pytest_uow.errors import UowError
from pytest_uow.savepoints import join_sessions, release

_OTHER_LOOP_WAIT = 10.0  # seconds the end of a test waits for a rollback on another thread's loop


def _loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
        self._states: dict[str, OnLoop] = {}  # by driver
        self._sessions: weakref.WeakSet[AsyncSession] = weakref.WeakSet()

    @property
    def drivers_used(self) -> list[str]:
        """The async drivers whose connection the test's async sessions used so far."""
        return list(self._states)

    def _state(self, driver: str | None) -> OnLoop:
        driver = driver or self._worker.driver
        state = self._worker.on_running_loop(driver)
        if any(other.loop is not state.loop for other in self._states.values()):
            raise UowError(
                "the test's async sessions ran on two event loops: a fixture and the test run "
                "on different loops (give them the same loop scope: pytest-asyncio's "
                "loop_scope, or asyncio_default_fixture_loop_scope), or the test and the live "
                "server (use the truncate strategy for that test)"
            )
        self._states[driver] = state
        return state

    def bind(self, original_bind: object = None, driver: str | None = None) -> Connection | Engine:
        """What a session binds to, on the running loop (called in SQLAlchemy's greenlet):
        through the plugin's async driver, or ``driver`` where an application engine of another
        one joins the test."""
        state = self._state(driver)
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
            if state.connecting is not None:
                raise concurrent_use(state.connecting, "was still opening it")
            state.connecting = asyncio.current_task()
            try:
                opened = state.engine.sync_engine.connect()
            finally:
                state.connecting = None
            connection = state.connection = AsyncConnection(state.engine, opened)
        sync_connection = connection.sync_connection
        assert sync_connection is not None
        if not sync_connection.in_transaction():
            sync_connection.begin()
            join_sessions(sync_connection)
        return sync_connection

    def track(self, session: AsyncSession) -> None:
        """A session the plugin handed out: closed after the test, on its loop."""
        self._sessions.add(session)

    def end(self) -> float:
        """After the test: its transaction rolled back on its loop, if the loop is still there
        (if it closed, its guard did that already, as the loop shut down). Returns how long
        the guard took then, which is part of the test's reset."""
        states, self._states = self._states, {}
        on_shut_down_loops = 0.0
        for driver, state in states.items():
            if state.loop.is_closed():
                on_shut_down_loops += state.released_seconds
            self._end(state, list(self._sessions) if driver == self._worker.driver else [])
        return on_shut_down_loops

    @staticmethod
    def _end(state: OnLoop, sessions: list[AsyncSession]) -> None:
        if state.connection is not None:
            sync_connection = state.connection.sync_connection
            if sync_connection is not None:
                release(sync_connection)
        if state.loop.is_closed():
            return
        ending = state.end_test(sessions)
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
    """The sync half of every async session pytest-uow points at a test: its bind is the
    running test's (``CURRENT``), looked up when it first needs one, on the loop running it."""

    __test__ = False
    original_bind: object = None  # the application's own engine, for its isolation level

    def get_bind(self, *args: Any, **kwargs: Any) -> Connection | Engine:
        side = CURRENT.aio
        if side is None:
            raise UowError(
                "this async session outlived its test: pytest-uow binds async sessions only "
                "while a test runs"
            )
        return side.bind(self.original_bind)


class _HandedOutAsyncSession(AsyncSession):
    """An AsyncSession of ``uow_async_session_factory``: closed by the plugin after the test,
    on the test's event loop (a sync teardown cannot await ``close()``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        side = CURRENT.aio
        if side is not None:
            side.track(self)


def handed_out_async_sessionmaker(session_options: Mapping[str, Any]) -> Any:
    """The factory of ``uow_async_session_factory``: its sessions' sync half is ``TestSession``,
    bound to the running test."""
    return make_async_sessionmaker(
        class_=_HandedOutAsyncSession,
        sync_session_class=TestSession,
        expire_on_commit=False,  # as SQLAlchemy advises for asyncio: no implicit IO after commit
        **dict(session_options),
    )
