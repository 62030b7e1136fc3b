"""``uow_isolation = database``: a database per worker, cloned from a template database.

The template holds what the schema source builds. It is named by a hash of everything that
determines its contents (the source's identity and the server's major version), built once per
run by the first worker that needs it while the others wait on an advisory lock, under a scratch
name that becomes its name only when it is complete, and sealed (``IS_TEMPLATE``, no
connections). On a real server it is kept, and a later run whose hash matches clones it without
building anything; the project's templates whose hash no longer matches are dropped once no run
uses them, but for the newest few (a branch switched back to finds its template still there).

Every worker database carries the mark of its run and worker, like a worker schema, and its
lease: an advisory lock keyed by the database's name, held by the worker on its connection to
the database the server URL names. ``pg_locks`` shows it from every database, so the reaper drops
only marked databases whose lease nobody holds, and never with ``FORCE``: a database somebody is
connected to stays. A template is marked as one, and held in use (a shared advisory lock) by
every worker cloned from it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import literal, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError

from pytest_uow.compat import NullPool, create_engine
from pytest_uow.diagnosis import sqlstate
from pytest_uow.errors import UowError
from pytest_uow.isolation.base import IsolationMode, Template, identified
from pytest_uow.leftovers.locks import Backend, connected_to, end_our_connections, left_idle
from pytest_uow.leftovers.naming import ConnectionNames
from pytest_uow.marks import (
    KEPT,
    KEPT_PATTERN,
    OWNED,
    OWNED_PATTERN,
    kept_here,
    mark,
    owned_here,
    template_mark,
)
from pytest_uow.scope import Scope
from pytest_uow.sources.base import SchemaSource, build
from pytest_uow.workers import Worker

PRIVILEGE = (
    "the CREATEDB privilege (ALTER ROLE ... CREATEDB); UOW_ISOLATION=schema needs only "
    "CREATE on one database"
)
# Templates of the project kept, the one in use included, while newer ones appear.
KEPT_TEMPLATES = 3
# Changes whenever what a template holds is decided differently, so old templates are not reused.
_TEMPLATE_FORMAT = "pytest-uow template 1"
_DUPLICATE_DATABASE = "42P04"

_LEASE_HELD = """
SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1
               AND pid <> pg_backend_pid())
"""
# How long connections just closed are given to go before the drop.
_DEPARTURE_WAIT_SECONDS = 0.2
_COMMENT = "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :name"
_MARKED = """
SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database
WHERE shobj_description(oid, 'pg_database') LIKE :mark
ORDER BY oid DESC
"""


def refusal(source: SchemaSource) -> str | None:
    """A worker database holds whatever the source builds: schemas, extensions, ``public``."""
    return None


def lock_key(purpose: str, name: str) -> int:
    """The advisory lock key of ``purpose`` ("lease", "build", "use") for database ``name``:
    the same in every process, from a hash rather than PostgreSQL's own so that ``pg_locks``
    can be searched for it."""
    digest = hashlib.sha256(f"pytest-uow {purpose} {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_params(key: int) -> dict[str, int]:
    """How ``pg_locks`` shows a bigint advisory key: high half in classid, low in objid."""
    unsigned = key % 2**64
    return {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF}


def template_name(prefix: str, identity: str, connection: Connection) -> str:
    """``<prefix>_tpl_<hash>``: the hash of the source's identity and the server's major
    version, so a template is reused only where it would be built the same."""
    major = (connection.dialect.server_version_info or (0,))[0]
    digest = hashlib.sha256(f"{_TEMPLATE_FORMAT}\n{major}\n{identity}".encode()).hexdigest()
    return f"{prefix}_tpl_{digest[:16]}"


def stale_templates(names_newest_first: list[str], current: str) -> list[str]:
    """Of a project's templates, those to drop: all but the newest few, the current one kept."""
    others = [name for name in names_newest_first if name != current]
    return others[KEPT_TEMPLATES - 1 :]


class _Server:
    """SQL on the worker's own autocommit connection to the server URL's database: databases
    are created and dropped outside transactions, and advisory locks taken on it last as long as
    the connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._quote = connection.dialect.identifier_preparer.quote

    def run(self, sql: str, params: Mapping[str, object] | None = None) -> object:
        return self.connection.execute(text(sql), params or {}).scalar()

    def lock(self, key: int, shared: bool = False) -> None:
        self.run(f"SELECT pg_advisory_lock{'_shared' if shared else ''}(:key)", {"key": key})

    def unlock(self, key: int, shared: bool = False) -> None:
        self.run(f"SELECT pg_advisory_unlock{'_shared' if shared else ''}(:key)", {"key": key})

    def held_by_others(self, key: int) -> bool:
        return bool(self.run(_LEASE_HELD, _lock_params(key)))

    def comment_of(self, database: str) -> str | None:
        """The database's comment ("" when it has none); None when it does not exist."""
        row = self.connection.execute(text(_COMMENT), {"name": database}).first()
        return None if row is None else (row[0] or "")

    def marked(self, pattern: str) -> list[tuple[str, str]]:
        """The databases whose comment is like ``pattern``, newest first, with their comment."""
        rows = self.connection.execute(text(_MARKED), {"mark": pattern})
        return [(name, comment) for name, comment in rows]

    def comment(self, database: str, comment: str) -> None:
        value = literal(comment).compile(
            dialect=self.connection.dialect, compile_kwargs={"literal_binds": True}
        )
        self.connection.exec_driver_sql(f"COMMENT ON DATABASE {self._quote(database)} IS {value}")

    def create(self, database: str, template: str, strategy: str = "") -> None:
        self.connection.exec_driver_sql(
            f"CREATE DATABASE {self._quote(database)} TEMPLATE {self._quote(template)}{strategy}"
        )

    def drop(self, database: str) -> None:
        """Never ``FORCE``: a database somebody is connected to stays."""
        self.connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {self._quote(database)}")

    def drop_template(self, database: str) -> None:
        self.connection.exec_driver_sql(
            f"ALTER DATABASE {self._quote(database)} WITH IS_TEMPLATE false"
        )
        self.drop(database)

    def rename_marked(self, database: str, new_name: str, comment: str) -> None:
        """Mark ``database`` with ``comment`` and rename it, in one transaction: nobody ever
        sees it under one name with the other's mark (a worker's mark on a template's name
        would be reaped, its lease being under the old name)."""
        value = literal(comment).compile(
            dialect=self.connection.dialect, compile_kwargs={"literal_binds": True}
        )
        self.connection.exec_driver_sql(
            f"COMMENT ON DATABASE {self._quote(database)} IS {value};\n"
            f"ALTER DATABASE {self._quote(database)} RENAME TO {self._quote(new_name)}"
        )

    def seal(self, database: str) -> None:
        self.connection.exec_driver_sql(
            f"ALTER DATABASE {self._quote(database)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
        )


class DatabaseIsolation:
    """The worker's database: ``<prefix>_<run>_<worker>``, a clone of the template."""

    noun = "worker database"
    schema = "public"
    search_path: str | None = None  # the database's own
    rebuild_replaces_database = True

    def __init__(self, worker: Worker, prefix: str, rebuild: bool = False) -> None:
        """``rebuild``: build the template afresh even where one with the same hash exists."""
        self._worker = worker
        self._prefix = prefix
        self._rebuild = rebuild
        self.name = worker.namespace_name(prefix)
        self.scope = Scope(f"{self.noun} {self.name}")
        self.template: Template | None = None
        self._server: _Server | None = None
        self._clone_strategy = ""

    def select(self, server: URL, application_name: str) -> URL:
        """The server URL naming the worker database, with the worker's application name."""
        return identified(server.set(database=self.name), application_name)

    def environment(self, url: URL) -> dict[str, str]:
        """``PGDATABASE``, and where the server is as far as the URL says (``PGHOST``,
        ``PGPORT``, ``PGUSER``; never the password): libpq connections that name no database
        land in the worker's, on the run's server. The database alone would send them to a
        server that has no such database (the throwaway server listens on a socket of its
        own)."""
        host = url.host or url.query.get("host")
        given = {
            "PGDATABASE": self.name,
            "PGHOST": host if isinstance(host, str) else None,
            "PGPORT": str(url.port) if url.port else url.query.get("port"),
            "PGUSER": url.username,
        }
        return {name: value for name, value in given.items() if isinstance(value, str)}

    def _connect(self, server: Engine) -> _Server:
        """The worker's connection to the server URL's database, holding the worker's lease
        from the first moment on: the reaper drops nothing of a worker that holds it."""
        if self._server is None:
            connection = server.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._server = _Server(connection)
            self._server.lock(lock_key("lease", self.name))
            # FILE_COPY copies the template's files and forces a checkpoint: cheap where
            # durability is off (the throwaway server: 22 ms against 34 ms at 200 tables),
            # costly where it is on (529 ms against 184 ms on this machine's service).
            fsync = connection.exec_driver_sql("SHOW fsync").scalar()
            major = int((connection.dialect.server_version_info or (0,))[0])
            if fsync == "off" and major >= 15:
                self._clone_strategy = " STRATEGY FILE_COPY"
        return self._server

    def reap(self, server: Engine) -> list[str]:
        """Drop the marked databases whose lease nobody holds (runs that died, and template
        builds they left unfinished); never with ``FORCE``."""
        sql = self._connect(server)
        reaped = []
        for database, comment in sql.marked(OWNED_PATTERN):
            if not owned_here(database, comment) or sql.held_by_others(lock_key("lease", database)):
                continue  # not named as its mark says, or a live run's database
            try:
                sql.drop(database)
            except DBAPIError:
                continue  # somebody is connected to it; the next run tries again
            reaped.append(database)
        return sorted(reaped)

    def create(self, server: Engine, engine: Engine, source: SchemaSource) -> None:
        """Clone the template, building it first if no run has, and mark the clone as ours."""
        sql = self._connect(server)
        self.template = self._ready_template(sql, server, source)
        self._clone(sql)

    def building(self, connection: Connection) -> AbstractContextManager[None]:
        """A worker database holds its extensions as any database does: nothing to add."""
        return nullcontext()

    def create_empty(self, server: Engine, engine: Engine) -> None:
        sql = self._connect(server)
        sql.create(self.name, "template0")
        sql.comment(self.name, mark(OWNED, self._worker.run_id, self._worker.name))

    def _clone(self, sql: _Server) -> None:
        assert self.template is not None
        sql.create(self.name, self.template.name, self._clone_strategy)
        sql.comment(self.name, mark(OWNED, self._worker.run_id, self._worker.name))

    def _ready_template(self, sql: _Server, server: Engine, source: SchemaSource) -> Template:
        """The template, built by this worker unless another one (of this run, or of an earlier
        run with the same hash) has; held in use by this worker from then on."""
        started = time.perf_counter()
        identity = self._worker.source_identity or source.identity(sql.connection.dialect)
        name = template_name(self._prefix, identity, sql.connection)
        built_by_this_run = template_mark(self._prefix, self._worker.run_id)
        with self._locked(sql, lock_key("build", name)):
            comment = sql.comment_of(name)
            if comment is not None and not comment.startswith(template_mark(self._prefix, "")):
                raise UowError(
                    f"database {name} exists and is not a pytest-uow template: drop it, or "
                    "choose another uow_schema_prefix"
                )
            reusable = comment is not None and (not self._rebuild or comment == built_by_this_run)
            if not reusable:
                if comment is not None:
                    self._drop_for_rebuild(sql, name)
                self._build(sql, server, source, name, built_by_this_run)
                self._drop_stale_templates(sql, name)
            sql.lock(lock_key("use", name), shared=True)
        return Template(name, not reusable, round(time.perf_counter() - started, 3))

    @contextmanager
    def _locked(self, sql: _Server, key: int) -> Iterator[None]:
        sql.lock(key)
        try:
            yield
        finally:
            sql.unlock(key)

    def _drop_for_rebuild(self, sql: _Server, name: str) -> None:
        """``uow_rebuild``: the existing template goes, unless a live run still clones from it."""
        if sql.held_by_others(lock_key("use", name)):
            raise UowError(
                f"uow_rebuild: template {name} is in use by another run; run again once it ends"
            )
        sql.drop_template(name)

    def _build(
        self, sql: _Server, server: Engine, source: SchemaSource, name: str, comment: str
    ) -> None:
        """Build under a scratch name, leased and marked like a worker database (a crash
        leaves it to the reaper), then mark it as a template and rename it at once, while the
        scratch lease still holds, and seal it."""
        scratch = f"{self._prefix}_tpb_{self._worker.run_id}_{self._worker.name}"
        with self._locked(sql, lock_key("lease", scratch)):
            sql.create(scratch, "template0")
            try:
                sql.comment(scratch, mark(OWNED, self._worker.run_id, self._worker.name))
                builder = create_engine(server.url.set(database=scratch), poolclass=NullPool)
                try:
                    with builder.begin() as connection:
                        build(source, connection)
                finally:
                    builder.dispose()
                sql.rename_marked(scratch, name, comment)
            except DBAPIError as error:
                sql.drop(scratch)
                if sqlstate(error) != _DUPLICATE_DATABASE:
                    raise
                return  # a run on another maintenance database finished the same template first
            except BaseException:
                sql.drop(scratch)
                raise
        sql.seal(name)

    def _drop_stale_templates(self, sql: _Server, current: str) -> None:
        """The project's templates that no run uses, but for the newest few."""
        project = template_mark(self._prefix.replace("_", "\\_"), "%")
        names = [name for name, _ in sql.marked(project)]
        for name in stale_templates(names, current):
            if sql.held_by_others(lock_key("use", name)):
                continue
            try:
                sql.drop_template(name)
            except DBAPIError:
                continue  # being cloned right now; a later build tries again

    def rebuild(
        self, server: Engine, engine: Engine, source: SchemaSource, names: ConnectionNames
    ) -> list[Backend]:
        """A fresh clone of the template replaces the worker database."""
        sql = self._connect(server)
        ended = self._drop_worker_database(sql, names)
        self._clone(sql)
        return ended

    def _drop_worker_database(self, sql: _Server, names: ConnectionNames) -> list[Backend]:
        """Dropped once nothing is connected to it. Connections the worker closed just now take
        a millisecond or two to go, but ``DROP DATABASE`` that finds one sleeps 100 ms before
        looking again (up to 5 s, then fails): waiting for them here took ``recreate`` from
        113 ms to 30 ms a test. Those still there after the wait were left open by the test
        (or its child processes): the worker's are ended, anybody else's stop the drop. The
        wait stops early when all that is left are the worker's connections idle in a
        transaction, which never go on their own."""
        deadline = time.monotonic() + _DEPARTURE_WAIT_SECONDS
        connected = connected_to(sql.connection, self.name, names)
        while (
            connected
            and not all(left_idle(backend, names) for backend in connected)
            and time.monotonic() < deadline
        ):
            time.sleep(0.001)
            connected = connected_to(sql.connection, self.name, names)
        ended = []
        if connected:
            ended = end_our_connections(sql.connection, self.name, names)
        sql.drop(self.name)
        return ended

    def create_kept(self, server: Engine, name: str, comment: str) -> URL:
        if self.template is None:
            raise UowError(f"{self.name} was cloned from no template")
        sql = self._connect(server)
        sql.create(name, self.template.name)
        sql.comment(name, comment)
        return server.url.set(database=name)

    def keep(self, server: Engine) -> None:
        self._connect(server).comment(self.name, mark(KEPT, self._worker.run_id, self._worker.name))

    def drop_kept(self, server: Engine, worker: str | None) -> list[str]:
        sql = self._connect(server)
        dropped = []
        for database, comment in sql.marked(KEPT_PATTERN):
            kept = kept_here(database, comment, self._prefix, worker)
            if database == self.name or not kept:
                continue
            try:
                sql.drop(database)
            except DBAPIError:
                continue  # somebody is connected to it: left for next time
            dropped.append(database)
        return sorted(dropped)

    def drop(self, server: Engine, names: ConnectionNames) -> list[Backend]:
        return self._drop_worker_database(self._connect(server), names)

    def release(self) -> None:
        """Closing the connection for good ends its session: the lease and the template's
        use go with it."""
        if self._server is not None:
            self._server.connection.invalidate()
            self._server.connection.close()
            self._server = None


MODE = IsolationMode(
    "database",
    DatabaseIsolation.noun,
    DatabaseIsolation,
    refusal,
    PRIVILEGE,
    uses_source_identity=True,
)
