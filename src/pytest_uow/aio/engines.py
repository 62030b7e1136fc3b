"""The worker's namespace as async code reaches it: an async engine per event loop, and the test's
connection kept on it, opened on the loop that first needs them.

Async connections belong to the event loop they were opened on, and a test's loop may live for
one test (pytest-asyncio's default) or the whole session (``loop_scope="session"``, anyio); the
plugin cannot tell beforehand, and must open nothing on a loop the test does not run on. What was
opened on a loop is released on that same loop: after the test if the loop lives on, or, if the
loop closes first, by a task that waits on it and is cancelled, and so runs its cleanup, when
the loop's runner shuts down (``asyncio.Runner``, which pytest-asyncio, anyio and ``asyncio.run``
use).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.util import greenlet_spawn

from pytest_uow.errors import UowError
from pytest_uow.routing.target import option_settings

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
    settings = option_settings(query.pop("options", ""))
    application_name = query.pop("application_name", ())
    if isinstance(application_name, str):
        settings["application_name"] = application_name
    connect_args: dict[str, Any] = {"server_settings": settings}
    timeout = query.pop("connect_timeout", ())
    if isinstance(timeout, str):
        connect_args["timeout"] = float(timeout)
    return url.set(query=query), connect_args


class OnLoop:
    """What the worker opened on one event loop: its engine, and the test connection kept on it
    from test to test."""

    def __init__(self, loop: asyncio.AbstractEventLoop, engine: AsyncEngine) -> None:
        self.loop = loop
        self.engine = engine
        self.connection: AsyncConnection | None = None
        self.connecting: asyncio.Task[Any] | None = None  # the task opening ``connection``
        self.engines_by_isolation: dict[str, AsyncEngine] = {}  # sharing the engine's pool
        # The pool entries a session holds now, whoever's session it is.
        self._out: dict[int, Any] = {}
        event.listen(engine.sync_engine, "checkout", self._checked_out)
        event.listen(engine.sync_engine, "checkin", self._checked_in)
        # How long the last release took, when the loop's shutdown ran it (not the test's end).
        self.released_seconds = 0.0
        self._stop = asyncio.Event()
        # Strongly held: the loop keeps only a weak reference to its tasks.
        self.guard = loop.create_task(self._guard())

    def _checked_out(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        self._out[id(record)] = record

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        self._out.pop(id(record), None)

    async def _end_transactions(self) -> None:
        """A connection of the loop's engine that a session still holds in a transaction (the
        test failed, erred or timed out before the session was closed) is rolled back, so that
        it holds no lock past the test: the next test inserting the same unique row would wait
        on it. The session keeps its connection: its next statement begins a new transaction.
        A connection that cannot be rolled back is ended."""
        for record in list(self._out.values()):
            dbapi_connection = record.dbapi_connection
            if dbapi_connection is None or not _in_a_transaction(dbapi_connection):
                continue
            try:
                await greenlet_spawn(dbapi_connection.rollback)
            except Exception:
                with contextlib.suppress(Exception):
                    record.invalidate()

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
        await self._end_transactions()

    async def release(self) -> None:
        """Close the kept connection, whatever its state, and every connection of the engines'
        pools (the loop's end; or a worker database about to be replaced: the next use
        connects to the new one)."""
        started = time.perf_counter()
        await self._end_transactions()
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
        self.released_seconds = time.perf_counter() - started

    def stop(self) -> None:
        self._stop.set()


def _in_a_transaction(dbapi_connection: Any) -> bool:
    """Whether an async driver's connection is in a transaction on the server (asyncpg says
    so; psycopg gives libpq's status: 2 in a transaction, 3 in a failed one)."""
    driver_connection = getattr(dbapi_connection, "driver_connection", None)
    is_in_transaction = getattr(driver_connection, "is_in_transaction", None)
    if is_in_transaction is not None:
        return bool(is_in_transaction())
    status = getattr(getattr(driver_connection, "info", None), "transaction_status", 0)
    return int(status) in (2, 3)


class AsyncWorker:
    """The worker's async engines, one per event loop, all on the worker's namespace."""

    def __init__(self, worker_url: URL, driver: str) -> None:
        """``driver`` is the async driver of the plugin's own sessions; an application engine
        of another driver is served on one of its own."""
        self.driver = driver
        self._worker_url = worker_url
        self._loops: dict[tuple[asyncio.AbstractEventLoop, str], OnLoop] = {}
        self.drivers_used: set[str] = set()  # what the tests' async sessions connected with

    def on_running_loop(self, driver: str | None = None) -> OnLoop:
        """The state of the running loop for ``driver`` (the plugin's by default), opened on it
        now if this is its first need."""
        driver = driver or self.driver
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UowError(
                "pytest-uow's async sessions need a running event loop: use them in an async "
                "test (pytest-asyncio or anyio)"
            ) from None
        state = self._loops.get((loop, driver))
        if state is None:
            for stale in [key for key in self._loops if key[0].is_closed()]:
                del self._loops[stale]
            url, connect_args = async_engine_args(self._worker_url, driver)
            engine = create_async_engine(url, connect_args=connect_args)
            _watch_concurrent_use(engine.sync_engine)
            state = self._loops[(loop, driver)] = OnLoop(loop, engine)
            self.drivers_used.add(driver)
        return state

    def release_connections(self) -> None:
        """Before the worker database is replaced (``recreate``): every connection to it
        closed, on its loop (a loop that closed took its connections with it)."""
        for (loop, _), state in list(self._loops.items()):
            if not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(state.release())

    def close(self) -> None:
        """The worker's end: release what is open on loops that are still there."""
        for (loop, _), state in list(self._loops.items()):
            if not loop.is_closed() and not loop.is_running():
                state.stop()
                loop.run_until_complete(state.guard)
        self._loops.clear()


_RUNNING = "pytest-uow running task"  # in a connection's info: the task whose statement runs


def _task_name(task: asyncio.Task[Any] | None) -> str:
    return f"task {task.get_name()}" if task is not None else "code outside a task"


def concurrent_use(other: asyncio.Task[Any] | None, what_it_did: str) -> UowError:
    """The one line for the running task using the test's connection while ``other`` still
    used it."""
    return UowError(
        f"{CONCURRENT_USE} ({_task_name(asyncio.current_task())} used it while "
        f"{_task_name(other)} {what_it_did})"
    )


def _watch_concurrent_use(engine: Engine) -> None:
    """Under rollback every session of a test shares one connection, and tasks may take turns
    on it (a middleware's child task, a background task, a task group): only a statement sent
    while another task's statement still runs is an error, named with both tasks. asyncpg
    would say "another operation is in progress"; psycopg would queue the second statement
    and interleave the two tasks' savepoints."""

    @event.listens_for(engine, "before_cursor_execute")
    def starting(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        task = asyncio.current_task()
        running = conn.info.get(_RUNNING)
        if running is not None and running is not task and not running.done():
            raise concurrent_use(running, "was still running a statement on it")
        conn.info[_RUNNING] = task

    @event.listens_for(engine, "after_cursor_execute")
    def finished(conn: Any, *args: Any) -> None:
        conn.info.pop(_RUNNING, None)

    @event.listens_for(engine, "handle_error")
    def explain(context: Any) -> None:
        connection = context.connection
        if connection is not None and not connection.closed:
            connection.info.pop(_RUNNING, None)
        if _ANOTHER_OPERATION in str(context.original_exception):
            raise UowError(CONCURRENT_USE) from context.original_exception
