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

A reset first tries under a short timeout. Most locks a reset finds were left by a test that
never closed a session: its connection sits idle in a transaction, and would only go when
terminated. So when the short timeout expires, the worker's own holders idle in a transaction
are terminated at once, and the reset tries again under the long timeout, which anything still
holding a lock gets to finish (a query of ours still running, autovacuum). The long timeout is
not shorter because autovacuum only gives way after ``deadlock_timeout`` (1 s by default). The
short one costs nothing when no lock is held, and about its own length when one is.

Each backend ended is named with the test it was left by (see ``naming.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from pytest_uow.diagnosis import sqlstate
from pytest_uow.errors import UowError
from pytest_uow.leftovers.naming import ConnectionNames, is_ours
from pytest_uow.scope import Scope

LOCK_TIMEOUT = "5s"
# A reset's first try: a lock held longer than this is looked up (see above).
FIRST_LOCK_TIMEOUT = "20ms"
# How long to wait for terminated backends to be gone.
_TERMINATE_WAIT_SECONDS = 5
_REMAINING_QUERY = "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"

_HOLDERS_QUERY = """
SELECT DISTINCT a.pid, coalesce(a.state, ''), a.application_name,
       left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 80)
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND (l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE {scope})
       OR (l.locktype = 'object' AND l.classid = 'pg_namespace'::regclass
           AND l.objid IN (SELECT n.oid FROM pg_namespace n WHERE {scope})))
ORDER BY a.pid
"""

_BUSY_QUERY = """
SELECT pid, coalesce(state, ''), application_name,
       left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 80)
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT pid = ANY(:own)
  AND (application_name = :base OR application_name LIKE :named) AND state <> 'idle'
ORDER BY pid
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
    test: str | None = None  # the test that left it, where it is one of the worker's

    @property
    def idle_in_transaction(self) -> bool:
        return self.state.startswith("idle in transaction")

    def describe(self) -> str:
        left_by = f", left by {self.test}" if self.test else ""
        return f"pid {self.pid}, {self.state or 'unknown state'}{left_by}: {self.query or '-'}"


def left_idle(backend: Backend, names: ConnectionNames) -> bool:
    """One of the worker's backends, idle in a transaction: a session a test never closed,
    which would never go on its own."""
    return backend.idle_in_transaction and is_ours(backend.application_name, names.base)


def describe_backends(backends: list[Backend]) -> str:
    return "; ".join(backend.describe() for backend in backends)


class LockedByOthers(UowError):
    """Backends that are not this worker's hold locks on its namespace, or are connected to
    its database: they are left alone."""


def is_lock_timeout(error: BaseException) -> bool:
    return sqlstate(error) == "55P03"  # lock_not_available


def _backends(
    connection: Connection, query: str, params: dict[str, object], names: ConnectionNames
) -> list[Backend]:
    rows = connection.execute(text(query), params).all()
    if connection.in_transaction():
        connection.commit()
    return [
        Backend(int(pid), state, name, query, names.test_of(int(pid), name))
        for pid, state, name, query in rows
    ]


def _terminate(
    connection: Connection, backends: list[Backend], names: ConnectionNames
) -> list[Backend]:
    """End ``backends`` and wait until they are gone, locks released. PostgreSQL's own wait
    (``pg_terminate_backend(pid, timeout)``) looks again only every 100 ms; a backend that
    was idle is gone in a millisecond or two. The pools of this process that hand them out
    are told (``names.ended``), so that none of them meets a dead connection."""
    if not backends:
        return backends
    pids = [backend.pid for backend in backends]
    names.ended(pids)
    connection.execute(
        text("SELECT pg_terminate_backend(pid) FROM unnest(:pids) AS pid"), {"pids": pids}
    )
    deadline = time.monotonic() + _TERMINATE_WAIT_SECONDS
    while time.monotonic() < deadline:
        # A transaction of its own each time: pg_stat_activity is read once per transaction.
        connection.commit()
        remaining = connection.execute(text(_REMAINING_QUERY), {"pids": pids}).scalar_one()
        if not remaining:
            break
        time.sleep(0.001)
    if connection.in_transaction():
        connection.commit()
    return backends


def _end_ours(
    connection: Connection, backends: list[Backend], names: ConnectionNames, what: str
) -> list[Backend]:
    """Terminate ``backends``, all of them this worker's; return them.

    Raises ``LockedByOthers``, terminating nothing, when one of them is not the worker's.
    ``what`` says what they hold, as the message names it.
    """
    others = [backend for backend in backends if not is_ours(backend.application_name, names.base)]
    if others:
        described = "; ".join(
            f"{backend.describe()} (application {backend.application_name!r})" for backend in others
        )
        raise LockedByOthers(
            f"{what} by backends that are not this worker's, and are left alone: {described}"
        )
    return _terminate(connection, backends, names)


def _run(
    connection: Connection, work: Callable[[Connection], object], lock_timeout: str | None
) -> None:
    """Run ``work`` in a transaction, under ``lock_timeout`` if given."""
    with connection.begin():
        if lock_timeout is not None:
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{lock_timeout}'")
        work(connection)


def _try(
    connection: Connection, work: Callable[[Connection], object], lock_timeout: str | None
) -> bool:
    """``_run``: whether it ran, or found a lock held for longer than ``lock_timeout``."""
    try:
        _run(connection, work, lock_timeout)
    except DBAPIError as error:
        if not is_lock_timeout(error):
            raise
        return False
    return True


def run_ending_our_lock_holders(
    connection: Connection,
    scope: Scope,
    names: ConnectionNames,
    work: Callable[[Connection], object],
    *,
    first_timeout_set: bool = False,
) -> list[Backend]:
    """Run ``work`` in a transaction, first under ``FIRST_LOCK_TIMEOUT``, ending the worker's
    lock holders on the way (see above); return the backends that were terminated.

    ``first_timeout_set`` says that ``connection``'s own ``lock_timeout`` is already
    ``FIRST_LOCK_TIMEOUT`` (the table cleaner's), which saves a statement on every reset.
    """
    if _try(connection, work, None if first_timeout_set else FIRST_LOCK_TIMEOUT):
        return []
    holders_query = _HOLDERS_QUERY.format(scope=scope.condition())
    holders = _backends(connection, holders_query, scope.params, names)
    ended = _terminate(connection, [b for b in holders if left_idle(b, names)], names)
    if _try(connection, work, LOCK_TIMEOUT):
        return ended
    # With no holder left (the lock went away meanwhile), the last try just succeeds.
    holders = _backends(connection, holders_query, scope.params, names)
    ended += _end_ours(connection, holders, names, f"locks on {scope.label} are held")
    _run(connection, work, LOCK_TIMEOUT)
    return ended


def busy_backends(connection: Connection, names: ConnectionNames, own: list[int]) -> list[Backend]:
    """The worker's connections that are in a transaction or running a statement now, but the
    backends ``own`` names (the test's own connection): what a failed test left open."""
    base = names.base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    params: dict[str, object] = {"own": own or [0], "base": names.base, "named": f"{base} %"}
    return _backends(connection, _BUSY_QUERY, params, names)


def lock_holders(connection: Connection, scope: Scope, names: ConnectionNames) -> list[Backend]:
    """Who holds a lock on ``scope`` now, but a connection that failed in its transaction (the
    waiter whose statement timed out, say)."""
    query = _HOLDERS_QUERY.format(scope=scope.condition())
    return [
        backend
        for backend in _backends(connection, query, scope.params, names)
        if backend.state != "idle in transaction (aborted)"
    ]


def connected_to(connection: Connection, database: str, names: ConnectionNames) -> list[Backend]:
    """The backends connected to ``database``, the worker's and anybody else's."""
    return _backends(connection, _CONNECTED_QUERY, {"database": database}, names)


def end_our_connections(
    connection: Connection, database: str, names: ConnectionNames
) -> list[Backend]:
    """End this worker's backends still connected to ``database``, so that it can be dropped;
    return them. Raises ``LockedByOthers``, ending nothing, if anybody else is connected."""
    connected = connected_to(connection, database, names)
    what = f"worker database {database} is still connected to"
    return _end_ours(connection, connected, names, what)
