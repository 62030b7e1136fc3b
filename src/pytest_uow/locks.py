"""Locks and connections a test left behind on the worker's namespace, and ending the backends
of ours that hold them.

A connection, session or thread that a test forgot can still hold locks on the worker's tables
when the reset runs (``DELETE``, ``TRUNCATE``, ``DROP SCHEMA``), which would then wait forever.
Resets therefore run under a lock timeout. When it expires, the backends holding locks on the
worker's tables are looked up; a worker database cannot be dropped while anything is connected
to it, so the backends still connected to it are looked up before. Those that are this
worker's, known by the application name that the worker's engine, ``uow_database_url`` and
``PGAPPNAME`` give every connection of the worker and of its child processes, are terminated,
and the reset goes on. A backend of anybody else is never touched: the reset then fails,
naming it.

The timeout is not shorter because autovacuum, which may briefly hold a conflicting lock, only
gives way after ``deadlock_timeout`` (1 s by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from pytest_uow.diagnosis import sqlstate
from pytest_uow.errors import UowError
from pytest_uow.scope import Scope

LOCK_TIMEOUT = "5s"
# How long to wait for a terminated backend to be gone (milliseconds).
_TERMINATE_WAIT_MS = 5000

_HOLDERS_QUERY = """
SELECT DISTINCT a.pid, coalesce(a.state, ''), a.application_name,
       left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 80)
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND (l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE {scope})
       OR (l.classid = 'pg_namespace'::regclass
           AND l.objid IN (SELECT n.oid FROM pg_namespace n WHERE {scope})))
ORDER BY a.pid
"""

_CONNECTED_QUERY = """
SELECT pid, coalesce(state, ''), application_name,
       left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 80)
FROM pg_stat_activity
WHERE datname = :database AND pid <> pg_backend_pid()
ORDER BY pid
"""


@dataclass(frozen=True)
class Backend:
    """A PostgreSQL backend holding a lock on the worker's namespace, or connected to it."""

    pid: int
    state: str
    application_name: str
    query: str

    def describe(self) -> str:
        return f"pid {self.pid}, {self.state or 'unknown state'}: {self.query or '-'}"


def describe_backends(backends: list[Backend]) -> str:
    return "; ".join(backend.describe() for backend in backends)


class LockedByOthers(UowError):
    """Backends that are not this worker's hold locks on its namespace, or are connected to
    its database: they are left alone."""


def is_lock_timeout(error: BaseException) -> bool:
    return sqlstate(error) == "55P03"  # lock_not_available


def _backends(connection: Connection, query: str, params: dict[str, object]) -> list[Backend]:
    rows = connection.execute(text(query), params).all()
    if connection.in_transaction():
        connection.commit()
    return [Backend(int(pid), state, name, query) for pid, state, name, query in rows]


def _end_ours(
    connection: Connection, backends: list[Backend], application_name: str, what: str
) -> list[Backend]:
    """Terminate ``backends``, all of them this worker's; return them.

    Raises ``LockedByOthers``, terminating nothing, when one of them is not the worker's.
    ``what`` says what they hold, as the message names it.
    """
    others = [backend for backend in backends if backend.application_name != application_name]
    if others:
        described = "; ".join(
            f"{backend.describe()} (application {backend.application_name!r})" for backend in others
        )
        raise LockedByOthers(
            f"{what} by backends that are not this worker's, and are left alone: {described}"
        )
    for backend in backends:
        connection.execute(
            text("SELECT pg_terminate_backend(:pid, :wait)"),
            {"pid": backend.pid, "wait": _TERMINATE_WAIT_MS},
        )
    if connection.in_transaction():
        connection.commit()
    return backends


def run_ending_our_lock_holders(
    connection: Connection,
    scope: Scope,
    application_name: str,
    work: Callable[[Connection], object],
) -> list[Backend]:
    """Run ``work`` in a transaction; on a lock timeout, end our lock holders and run it again.

    ``connection`` must have a lock timeout set. Returns the backends that were terminated.
    """
    try:
        with connection.begin():
            work(connection)
    except DBAPIError as error:
        if not is_lock_timeout(error):
            raise
        # With no holder left (the lock went away meanwhile), the second try just succeeds.
        holders = _backends(
            connection, _HOLDERS_QUERY.format(scope=scope.condition()), scope.params
        )
        ended = _end_ours(connection, holders, application_name, f"locks on {scope.label} are held")
    else:
        return []
    with connection.begin():
        work(connection)
    return ended


def end_our_connections(
    connection: Connection, database: str, application_name: str
) -> list[Backend]:
    """End this worker's backends still connected to ``database``, so that it can be dropped;
    return them. Raises ``LockedByOthers``, ending nothing, if anybody else is connected."""
    connected = _backends(connection, _CONNECTED_QUERY, {"database": database})
    what = f"worker database {database} is still connected to"
    return _end_ours(connection, connected, application_name, what)
