"""The worker's engines: the one whose every connection uses the worker's namespace, the one on
the server's own database, and the worker engine at each isolation level an application's own
engine asks for (REPEATABLE READ in Cosmic Python), made once each."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from pytest_uow.compat import create_engine, requested_isolation_level
from pytest_uow.diagnosis import has_input
from pytest_uow.leftovers.naming import ConnectionNames


def isolation_level_of(original_bind: object) -> str | None:
    """The isolation level an application's own engine (sync or async) asked for."""
    bind = getattr(original_bind, "sync_engine", original_bind)
    return requested_isolation_level(bind) if isinstance(bind, Engine) else None


def _discard_connections_the_server_closed(engine: Engine) -> None:
    """Replace a pooled connection that the server closed (it restarted, or ended the backend)
    before a test gets it, so that a server that is gone shows at the test's setup, as the one
    reason, not inside the test.

    An idle connection has nothing to read unless the server hung up, so the check is a poll
    of its socket: about 1 µs, where ``pool_pre_ping``'s round trip measured 0.13 ms per test.
    """

    @event.listens_for(engine, "checkout")
    def check(dbapi_connection: Any, record: object, proxy: object) -> None:
        if has_input(dbapi_connection):  # an idle connection: only the end of it
            raise DisconnectionError("the server closed this pooled connection")


class WorkerEngines:
    """``engine`` on the worker's namespace at ``url``, beside ``server``, the owner's engine on
    the server URL's database."""

    def __init__(self, server: Engine, url: URL, names: ConnectionNames) -> None:
        self.server = server
        self.url = url
        self.engine = create_engine(url)
        _discard_connections_the_server_closed(self.engine)
        names.watch(self.engine)
        self._by_level: dict[str, Engine] = {}

    def like(self, original_bind: object) -> Engine:
        """The worker engine, at the isolation level the application's own engine asked for."""
        level = isolation_level_of(original_bind)
        if level is None:
            return self.engine
        if level not in self._by_level:
            self._by_level[level] = self.engine.execution_options(isolation_level=level)
        return self._by_level[level]

    def cancel_queries_of(self, connection: Connection) -> None:
        """Cancel what ``connection``'s backend is running (a request the live server still
        serves on the test's connection), from a connection of the server's, so that the
        reset does not wait for it."""
        with contextlib.suppress(SQLAlchemyError):
            pid = connection.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
            with self.server.connect() as server:
                server.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})

    def dispose(self) -> None:
        self.engine.dispose()
