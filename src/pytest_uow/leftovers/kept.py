"""A failed test's rows, kept for a look (``--uow-keep-failed``): what the test left in the
worker namespace, read on its own connection before its reset (under ``rollback``, its
uncommitted rows too), and written into a namespace of its own that the run leaves in place.

The rows travel as ``COPY`` text, through the driver's own copy API (psycopg2's
``copy_expert``, psycopg's ``cursor.copy``): one statement per table each way, whatever the
column types.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection


def _copy_out(dbapi_connection: Any, sql: str) -> bytes:
    buffer = io.BytesIO()
    with dbapi_connection.cursor() as cursor:
        if hasattr(cursor, "copy_expert"):  # psycopg2
            cursor.copy_expert(sql, buffer)
        else:  # psycopg
            with cursor.copy(sql) as copy:
                for data in copy:
                    buffer.write(data)
    return buffer.getvalue()


def _copy_in(dbapi_connection: Any, sql: str, data: bytes) -> None:
    with dbapi_connection.cursor() as cursor:
        if hasattr(cursor, "copy_expert"):  # psycopg2
            cursor.copy_expert(sql, io.BytesIO(data))
        else:  # psycopg
            with cursor.copy(sql) as copy:
                copy.write(data)


def read_rows(connection: Connection, tables: Sequence[tuple[str, str]]) -> dict[str, bytes]:
    """Each table's rows (``tables``: qualified name, quoted column list), as ``connection``
    sees them, in ``COPY`` text; tables without rows left out."""
    dbapi_connection = connection.connection.dbapi_connection
    rows = {}
    for table, columns in tables:
        data = _copy_out(dbapi_connection, f"COPY (SELECT {columns} FROM {table}) TO STDOUT")
        if data:
            rows[table] = data
    return rows


def write_rows(connection: Connection, rows: Mapping[str, tuple[str, bytes]]) -> None:
    """Into each target table (qualified name -> its quoted column list and ``COPY`` text),
    in the order given (parents before the tables that reference them)."""
    dbapi_connection = connection.connection.dbapi_connection
    for table, (columns, data) in rows.items():
        _copy_in(dbapi_connection, f"COPY {table} ({columns}) FROM STDIN", data)
