"""Worker schemas: create, drop, and the connection options that select them.

``search_path`` is set when each connection opens, through libpq's ``options`` parameter (and
``PGOPTIONS`` for connections the application opens itself), never by ``SET`` inside a
transaction, which a rollback would undo.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_mock_engine, text
from sqlalchemy.engine import URL, Dialect, Engine
from sqlalchemy.schema import CreateSchema, DropSchema

DROP_LOCK_TIMEOUT = "10s"


def search_path_option(schema: str) -> str:
    """The libpq ``options`` value that makes ``schema`` the only schema on the search path.

    Worker schema names are built from a checked prefix, a hex run id and the worker name, so
    they never need quoting.
    """
    return f"-csearch_path={schema}"


def worker_url(server: URL, schema: str, application_name: str) -> URL:
    """The server URL with the worker's ``search_path`` and application name baked in."""
    given = server.query.get("options") or ()
    options = " ".join(
        [*([given] if isinstance(given, str) else given), search_path_option(schema)]
    )
    return server.update_query_dict({"options": options, "application_name": application_name})


def create_schema(engine: Engine, schema: str, metadata: MetaData | None) -> None:
    """Create the worker schema and the application's tables in it, in one transaction."""
    with engine.begin() as connection:
        connection.execute(CreateSchema(schema))
        if metadata is not None:
            metadata.create_all(connection)


def drop_schema(engine: Engine, schema: str) -> None:
    """Drop a worker schema this run created; a leftover lock makes it fail, never hang."""
    with engine.begin() as connection:
        connection.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
        connection.execute(DropSchema(schema, cascade=True, if_exists=True))


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
