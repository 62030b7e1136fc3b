"""Worker schemas: create, drop, and the connection options that select them.

``search_path`` is set when each connection opens, through libpq's ``options`` parameter (and
``PGOPTIONS`` for connections the application opens itself), never by ``SET`` inside a
transaction, which a rollback would undo.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_mock_engine, text
from sqlalchemy import literal as literal_value
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateSchema, DropSchema

from pytest_uow.locks import LOCK_TIMEOUT, Backend, run_ending_our_lock_holders


def search_path_option(schema: str) -> str:
    """The libpq ``options`` value that makes ``schema`` the only schema on the search path.

    Worker schema names are built from a checked prefix, a hex run id and the worker name, so
    they never need quoting.
    """
    return f"-csearch_path={schema}"


CONNECT_TIMEOUT_SECONDS = "10"


def worker_url(server: URL, schema: str, application_name: str) -> URL:
    """The server URL with the worker's ``search_path`` and application name baked in, and a
    connect timeout unless the URL has one: an unreachable host fails instead of hanging."""
    given = server.query.get("options") or ()
    options = " ".join(
        [*([given] if isinstance(given, str) else given), search_path_option(schema)]
    )
    extra = {"options": options, "application_name": application_name}
    if "connect_timeout" not in server.query:
        extra["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return server.update_query_dict(extra)


# Every worker schema carries this comment: it is how the reaper knows a schema is ours.
OWNED = "pytest-uow run={run} worker={worker}"
KEPT = "pytest-uow kept: run={run} worker={worker}"
_OWNED_PATTERN = "pytest-uow run=%"
ANY_MARK_PATTERN = "pytest-uow%"  # owned or kept: a worker schema of some run
# A session-level advisory lock per worker schema, held by its worker while it lives.
_LEASE_KEY = "hashtextextended(:schema, 0)"


def comment_sql(dialect: Dialect, schema: str, comment: str) -> str:
    """``COMMENT ON SCHEMA``, identifier and literal rendered by the dialect."""
    literal = literal_value(comment).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}
    )
    return f"COMMENT ON SCHEMA {dialect.identifier_preparer.quote_schema(schema)} IS {literal}"


def _comment_on(connection: Connection, schema: str, comment: str) -> None:
    connection.exec_driver_sql(comment_sql(connection.dialect, schema, comment))


def _drop(connection: Connection, schema: str) -> None:
    """Inside the caller's transaction; a leftover lock makes it fail, never hang."""
    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    connection.execute(DropSchema(schema, cascade=True, if_exists=True))


def create_schema(connection: Connection, schema: str, comment: str) -> None:
    """Create the worker schema, marked as ours, in the caller's transaction."""
    connection.execute(CreateSchema(schema))
    _comment_on(connection, schema, comment)


def mark_kept(engine: Engine, schema: str, comment: str) -> None:
    """A kept schema is the user's to inspect and drop: the reaper leaves it alone."""
    with engine.begin() as connection:
        _comment_on(connection, schema, comment)


def take_lease(engine: Engine, schema: str) -> Connection:
    """Hold the schema's lease on a connection of its own, until the worker ends or dies."""
    connection = engine.connect()
    connection.execute(text(f"SELECT pg_advisory_lock({_LEASE_KEY})"), {"schema": schema})
    connection.commit()
    return connection


def release_lease(connection: Connection) -> None:
    """Closing the connection for good ends the session, and with it the advisory lock."""
    connection.invalidate()
    connection.close()


def reap_abandoned(engine: Engine) -> list[str]:
    """Drop the worker schemas of runs that died: marked as ours, with a free lease.

    Schemas of live runs hold their lease; schemas without our mark are never looked at.
    """
    reaped = []
    with engine.connect() as connection:
        candidates = (
            connection.execute(
                text(
                    "SELECT nspname FROM pg_namespace "
                    "WHERE obj_description(oid, 'pg_namespace') LIKE :owned ORDER BY nspname"
                ),
                {"owned": _OWNED_PATTERN},
            )
            .scalars()
            .all()
        )
        connection.commit()
        for schema in candidates:
            params = {"schema": schema}
            leased = connection.execute(
                text(f"SELECT pg_try_advisory_lock({_LEASE_KEY})"), params
            ).scalar_one()
            connection.commit()
            if not leased:
                continue  # a live run's schema
            try:
                with connection.begin():
                    _drop(connection, schema)
                reaped.append(schema)
            except DBAPIError:
                connection.rollback()  # busy after all (lock timeout); the next run tries again
            finally:
                connection.execute(text(f"SELECT pg_advisory_unlock({_LEASE_KEY})"), params)
                connection.commit()
    return reaped


def drop_schema(engine: Engine, schema: str, application_name: str) -> list[Backend]:
    """Drop a worker schema this run created; return the worker's backends that still held
    locks on it and were terminated for it."""
    with engine.connect() as connection:
        return run_ending_our_lock_holders(
            connection, schema, application_name, lambda connection: _drop(connection, schema)
        )


def compile_ddl(metadata: MetaData, dialect: Dialect) -> str:
    """Everything ``create_all`` would send (types, tables, indexes), as one SQL script.

    Compiled once per worker, so that rebuilding a schema is one round trip instead of
    ``create_all`` with an existence check per table.
    """
    statements: list[str] = []

    def collect(statement: Any, *args: Any, **kwargs: Any) -> None:
        statements.append(str(statement.compile(dialect=dialect)).strip())

    mock = create_mock_engine(URL.create(f"{dialect.name}+{dialect.driver}"), collect)
    metadata.create_all(mock, checkfirst=False)
    return "".join(f"{statement};\n" for statement in statements)
