"""``uow_isolation = schema``: a schema per worker in one database, selected by ``search_path``.

``search_path`` is set when each connection opens, through libpq's ``options`` parameter (and
``PGOPTIONS`` for connections the application opens itself). Each worker schema carries the mark
of its run and worker (``marks.py``) and, while the worker lives, a session-level advisory lock,
its lease: the reaper drops only marked schemas whose lease is free.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

from sqlalchemy import literal, text
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateSchema, DropSchema

from pytest_uow.isolation.base import IsolationMode, Template, identified, with_option
from pytest_uow.isolation.extensions import ExtensionBridges, drop_if_last, search_path
from pytest_uow.leftovers.locks import LOCK_TIMEOUT, Backend, run_ending_our_lock_holders
from pytest_uow.leftovers.naming import ConnectionNames
from pytest_uow.marks import (
    KEPT,
    KEPT_PATTERN,
    OWNED,
    OWNED_PATTERN,
    kept_here,
    mark,
    owned_here,
)
from pytest_uow.scope import Scope
from pytest_uow.sources.base import SchemaSource, build
from pytest_uow.workers import Worker

_LEASE_KEY = "hashtextextended(:schema, 0)"
_KEPT_QUERY = """
SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace
WHERE obj_description(oid, 'pg_namespace') LIKE :kept ORDER BY nspname
"""
PRIVILEGE = "the CREATE privilege on its database"


def refusal(source: SchemaSource) -> str | None:
    """Tables that name their own schema cannot live in a worker schema."""
    foreign = source.tables_naming_a_schema()
    if not foreign:
        return None
    return (
        f"tables {', '.join(foreign)} name their own schema, and a worker schema holds only "
        "tables that name none: set UOW_ISOLATION=database (a database per worker holds "
        "every schema), or leave Table(schema=...) unset"
    )


def search_path_option(schema: str) -> str:
    """The libpq ``options`` value that makes ``schema`` the first schema on the search path,
    followed only by the extensions moved out of worker schemas (``extensions.py``).

    Worker schema names are built from a checked prefix, a hex run id and the worker name, so
    they never need quoting.
    """
    return f"-csearch_path={search_path(schema)}"


def _comment_sql(dialect: Dialect, schema: str, comment: str) -> str:
    """``COMMENT ON SCHEMA``, identifier and literal rendered by the dialect."""
    value = literal(comment).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return f"COMMENT ON SCHEMA {dialect.identifier_preparer.quote_schema(schema)} IS {value}"


def _drop(connection: Connection, schema: str) -> None:
    """Inside the caller's transaction, which sets a lock timeout: a leftover lock makes it
    fail, never hang."""
    connection.execute(DropSchema(schema, cascade=True, if_exists=True))


def _drop_alone(connection: Connection, schema: str) -> bool:
    """Drop ``schema`` (not the worker's own) in a transaction of its own, under the lock
    timeout: whether it went; one somebody holds a lock on is left for the next run."""
    try:
        with connection.begin():
            connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            _drop(connection, schema)
    except DBAPIError:
        return False
    return True


class SchemaIsolation:
    """The worker's schema: ``<prefix>_<run>_<worker>``."""

    noun = "worker schema"
    template: Template | None = None  # built by the source in place, every run
    rebuild_replaces_database = False

    def __init__(self, worker: Worker, prefix: str, rebuild: bool = False) -> None:
        """``rebuild`` asks for nothing here: a worker schema is built afresh every run."""
        self._worker = worker
        self._prefix = prefix
        self.name = self.schema = worker.namespace_name(prefix)
        self.search_path: str | None = search_path(self.name)
        self._bridges = ExtensionBridges()
        self.scope = Scope(f"{self.noun} {self.name}", self.name)
        self._owned = mark(OWNED, worker.run_id, worker.name)
        self._lease: Connection | None = None

    def select(self, server: URL, application_name: str) -> URL:
        """The server URL with the worker's ``search_path`` and application name baked in."""
        return with_option(identified(server, application_name), search_path_option(self.name))

    def environment(self, url: URL) -> dict[str, str]:
        """``PGOPTIONS`` with the worker's ``search_path`` after the options already given."""
        given = os.environ.get("PGOPTIONS")
        option = f"-c search_path={search_path(self.name)}"
        return {"PGOPTIONS": f"{given} {option}" if given else option}

    def _create_sql(self, dialect: Dialect) -> str:
        """The schema, its mark and the bridges to extensions installed elsewhere that its
        builds named: the one place a worker schema is created."""
        create = CreateSchema(self.name).compile(dialect=dialect)
        mark = _comment_sql(dialect, self.name, self._owned)
        return f"{create};\n{mark};\n{self._bridges.script(dialect)}"

    def reap(self, server: Engine) -> list[str]:
        return _reap_abandoned(server)

    def create(self, server: Engine, engine: Engine, source: SchemaSource) -> None:
        """The schema, its mark and its tables in one transaction, on a connection that already
        has the schema on its ``search_path``."""
        self._lease = _take_lease(server, self.name)
        with engine.begin() as connection:
            connection.exec_driver_sql(self._create_sql(connection.dialect))
            with self._bridges.watching(connection):
                build(source, connection)

    def create_empty(self, server: Engine, engine: Engine) -> None:
        """Created through the server's engine, so that ``engine`` first connects with the
        schema already there: SQLAlchemy 1.4 notes the default schema (``current_schema()``)
        then, once, and reflects only it (Alembic's comparison of the models)."""
        self._lease = _take_lease(server, self.name)
        with server.begin() as connection:
            connection.exec_driver_sql(self._create_sql(connection.dialect))

    def building(self, connection: Connection) -> AbstractContextManager[None]:
        return self._bridges.watching(connection)

    def rebuild(
        self, server: Engine, engine: Engine, source: SchemaSource, names: ConnectionNames
    ) -> list[Backend]:
        """Drop the schema and replay its creation and the source's DDL in one round trip,
        mark included, so that the reaper still knows it as ours; then the baseline rows. A
        source without a script builds again."""

        def replace(connection: Connection) -> None:
            dialect = connection.dialect
            drop = DropSchema(self.name, cascade=True).compile(dialect=dialect)
            ddl = source.ddl(dialect)
            with self._bridges.watching(connection):
                connection.exec_driver_sql(f"{drop};\n{self._create_sql(dialect)}{ddl or ''}")
                if ddl is None:
                    build(source, connection)
                else:
                    source.fill(connection)

        with engine.connect() as connection:
            return run_ending_our_lock_holders(connection, self.scope, names, replace)

    def create_kept(self, server: Engine, name: str, comment: str) -> URL:
        with server.begin() as connection:
            quoted = connection.dialect.identifier_preparer.quote_schema(name)
            connection.exec_driver_sql(f"CREATE SCHEMA {quoted}")
            connection.exec_driver_sql(_comment_sql(connection.dialect, name, comment))
        return with_option(server.url, search_path_option(name))

    def keep(self, server: Engine) -> None:
        with server.begin() as connection:
            comment = mark(KEPT, self._worker.run_id, self._worker.name)
            connection.exec_driver_sql(_comment_sql(connection.dialect, self.name, comment))

    def drop_kept(self, server: Engine, worker: str | None) -> list[str]:
        dropped = []
        with server.connect() as connection:
            marked = connection.execute(text(_KEPT_QUERY), {"kept": KEPT_PATTERN}).all()
            connection.commit()
            for schema, comment in marked:
                ours = schema != self.name and kept_here(schema, comment, self._prefix, worker)
                if ours and _drop_alone(connection, schema):
                    dropped.append(schema)
        return sorted(dropped)

    def drop(self, server: Engine, names: ConnectionNames) -> list[Backend]:
        with server.connect() as connection:
            ended = run_ending_our_lock_holders(
                connection, self.scope, names, lambda connection: _drop(connection, self.name)
            )
            drop_if_last(connection, self.name)
            return ended

    def release(self) -> None:
        """Closing the lease's connection for good ends its session, and the advisory lock."""
        if self._lease is not None:
            self._lease.invalidate()
            self._lease.close()
            self._lease = None


def _take_lease(engine: Engine, schema: str) -> Connection:
    """Hold the schema's lease on a connection of its own, until the worker ends or dies."""
    connection = engine.connect()
    connection.execute(text(f"SELECT pg_advisory_lock({_LEASE_KEY})"), {"schema": schema})
    connection.commit()
    return connection


def _reap_abandoned(engine: Engine) -> list[str]:
    """Drop the worker schemas of runs that died: marked as ours, with a free lease.

    Schemas of live runs hold their lease; schemas without our mark, or not named as it says,
    are never looked at.
    """
    reaped = []
    with engine.connect() as connection:
        marked = connection.execute(
            text(
                "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace "
                "WHERE obj_description(oid, 'pg_namespace') LIKE :owned ORDER BY nspname"
            ),
            {"owned": OWNED_PATTERN},
        ).all()
        connection.commit()
        for schema in (name for name, comment in marked if owned_here(name, comment)):
            params = {"schema": schema}
            leased = connection.execute(
                text(f"SELECT pg_try_advisory_lock({_LEASE_KEY})"), params
            ).scalar_one()
            connection.commit()
            if not leased:
                continue  # a live run's schema
            try:
                if _drop_alone(connection, schema):  # else busy after all: the next run tries
                    reaped.append(schema)
            finally:
                connection.execute(text(f"SELECT pg_advisory_unlock({_LEASE_KEY})"), params)
                connection.commit()
    return reaped


MODE = IsolationMode("schema", SchemaIsolation.noun, SchemaIsolation, refusal, PRIVILEGE)
