"""Locks a test left behind on the worker schema, and ending the backends of ours that hold them.

A connection, session or thread that a test forgot can still hold locks on the worker schema
when the reset runs (``DELETE``, ``TRUNCATE``, ``DROP SCHEMA``), which would then wait forever.
Resets therefore run under a lock timeout. When it expires, the backends holding locks on the
schema are looked up. Those that are this worker's, known by the application name that the
worker's engine, ``uow_database_url`` and ``PGAPPNAME`` give every connection of the worker and
of its child processes, are terminated, and the reset is tried once more. A backend of anybody
else is never touched: the reset then fails, naming it.

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
                      WHERE n.nspname = :schema)
       OR (l.classid = 'pg_namespace'::regclass
           AND l.objid = (SELECT oid FROM pg_namespace WHERE nspname = :schema)))
ORDER BY a.pid
"""


@dataclass(frozen=True)
class Backend:
    """A PostgreSQL backend holding a lock on the worker schema."""

    pid: int
    state: str
    application_name: str
    query: str

    def describe(self) -> str:
        return f"pid {self.pid}, {self.state or 'unknown state'}: {self.query or '-'}"


def describe_backends(backends: list[Backend]) -> str:
    return "; ".join(backend.describe() for backend in backends)


class LockedByOthers(UowError):
    """Backends that are not this worker's hold locks on its schema: they are left alone."""


def is_lock_timeout(error: BaseException) -> bool:
    return sqlstate(error) == "55P03"  # lock_not_available


def _lock_holders(connection: Connection, schema: str) -> list[Backend]:
    rows = connection.execute(text(_HOLDERS_QUERY), {"schema": schema}).all()
    connection.commit()
    return [Backend(int(pid), state, name, query) for pid, state, name, query in rows]


def _end_our_lock_holders(
    connection: Connection, schema: str, application_name: str
) -> list[Backend]:
    """Terminate this worker's backends that hold locks on ``schema``; return them.

    Raises ``LockedByOthers``, terminating nothing, when a backend that is not the worker's
    holds one.
    """
    holders = _lock_holders(connection, schema)
    others = [backend for backend in holders if backend.application_name != application_name]
    if others:
        described = "; ".join(
            f"{backend.describe()} (application {backend.application_name!r})" for backend in others
        )
        raise LockedByOthers(
            f"locks on worker schema {schema} are held by backends that are not this "
            f"worker's, and are left alone: {described}"
        )
    for backend in holders:
        connection.execute(
            text("SELECT pg_terminate_backend(:pid, :wait)"),
            {"pid": backend.pid, "wait": _TERMINATE_WAIT_MS},
        )
    connection.commit()
    return holders


def run_ending_our_lock_holders(
    connection: Connection,
    schema: str,
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
        ended = _end_our_lock_holders(connection, schema, application_name)
    else:
        return []
    with connection.begin():
        work(connection)
    return ended
