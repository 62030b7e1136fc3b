"""The live server (``uow_live_server``): the application served over HTTP on ``127.0.0.1``, in
a thread of the worker, started once per worker and reused by every test.

Each request runs inside the isolation of the test that is running, because the application's
factories named in ``uow_sessionmakers`` are re-bound for each test: under ``rollback`` to the
test's one connection, so the server sees what the test set up and everything it commits is
rolled back. One connection has one user at a time: requests are served one after another (a
WSGI server with one thread; an ASGI application behind a lock), and the test thread waits in
its HTTP client while its request is served. A request still in flight when the test ends is
waited for, for a bounded time, then reported by the test's name.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pytest_uow.errors import UowError

# How long the end of a test waits for a request still being served.
IN_FLIGHT_WAIT = 5.0


class _Server(WSGIServer):
    """Connections wait in the listen queue while one request is served: room for a test's
    concurrent requests (socketserver's default is 5)."""

    request_queue_size = 64


class _Quiet(WSGIRequestHandler):
    """No access log on stderr: a test's output shows the test's own lines."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _InFlight:
    """Counts the requests being served, so that the end of a test can wait for them."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


def is_asgi(app: object) -> bool:
    """An ASGI application: an async callable (FastAPI, Starlette, a bare ``async def``)."""
    if inspect.isfunction(app):
        return inspect.iscoroutinefunction(app)
    return callable(app) and inspect.iscoroutinefunction(type(app).__call__)


def is_wsgi(app: object) -> bool:
    """A WSGI application: Flask's (anything with ``wsgi_app``), or a callable of two
    parameters, ``environ`` and ``start_response``."""
    if hasattr(app, "wsgi_app"):
        return True
    if not callable(app) or is_asgi(app):
        return False
    try:
        parameters = inspect.signature(app).parameters
    except (TypeError, ValueError):
        return False
    return len(parameters) == 2


def resolve_app(target: object, spec: str) -> object:
    """The application ``spec`` names: the object itself, or what a factory returns when
    called with no arguments (``create_app``)."""
    if is_wsgi(target) or is_asgi(target):
        return target
    if callable(target):
        app = target()
        if is_wsgi(app) or is_asgi(app):
            return app
        raise UowError(
            f"{spec} returned a {type(app).__name__}, which is neither a WSGI nor an ASGI "
            "application"
        )
    raise UowError(
        f"{spec} is a {type(target).__name__}: name a WSGI application (Flask), an ASGI "
        "application (FastAPI, Starlette) or a factory returning one"
    )


class LiveServer:
    """One worker's server: ``url`` and ``str()`` give its base URL."""

    def __init__(self, app: object) -> None:
        self._in_flight = _InFlight()
        self.kind = "ASGI" if is_asgi(app) else "WSGI"
        self._stop: Callable[[], None]
        if self.kind == "WSGI":
            self.url = self._serve_wsgi(app)
        else:
            self.url = self._serve_asgi(app)

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"<LiveServer {self.kind} {self.url}>"

    def _serve_wsgi(self, app: Any) -> str:
        in_flight = self._in_flight

        def counted(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            with in_flight:
                response = app(environ, start_response)
                try:
                    yield from response
                finally:
                    close = getattr(response, "close", None)
                    if close is not None:
                        close()

        server = make_server("127.0.0.1", 0, counted, server_class=_Server, handler_class=_Quiet)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="pytest-uow live server",
        )
        thread.start()

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(5)

        self._stop = stop
        return f"http://127.0.0.1:{server.server_port}"

    def _serve_asgi(self, app: Any) -> str:
        try:
            import uvicorn
        except ImportError:
            raise UowError(
                "serving an ASGI application needs uvicorn: pip install uvicorn"
            ) from None
        in_flight = self._in_flight
        lock: asyncio.Lock | None = None

        async def one_at_a_time(scope: dict[str, Any], receive: Any, send: Any) -> None:
            nonlocal lock
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            if lock is None:
                lock = asyncio.Lock()
            async with lock:
                with in_flight:
                    await app(scope, receive, send)

        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        config = uvicorn.Config(one_at_a_time, log_level="warning", lifespan="auto")
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [listening]},
            daemon=True,
            name="pytest-uow live server",
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise UowError("the live server did not start (uvicorn)")
            time.sleep(0.01)

        def stop() -> None:
            server.should_exit = True
            thread.join(5)
            listening.close()

        self._stop = stop
        return f"http://127.0.0.1:{port}"

    def wait_idle(self, timeout: float = IN_FLIGHT_WAIT) -> bool:
        """Whether every request in flight finished within ``timeout`` seconds."""
        return self._in_flight.wait_idle(timeout)

    def stop(self) -> None:
        self._stop()
