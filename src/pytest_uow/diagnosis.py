"""What went wrong with the server, said in one line, with what to do about it.

Errors from PostgreSQL come as several lines (``FATAL: ...``, ``DETAIL: ...``, a caret under
the statement). Every test that meets one of them would repeat it as a traceback; instead the
plugin keeps the first two lines of the cause and adds the remedy for the errors users meet
most: the server is not there, the password is wrong, the database does not exist, the user may
not create schemas, the server is out of disk space.
"""

from __future__ import annotations

import re
import select
from typing import Any

from sqlalchemy.exc import DBAPIError

from pytest_uow.errors import UowError


def has_input(dbapi_connection: Any) -> bool:
    """Whether the server sent an idle connection something it has not read: on one that
    listens for nothing, only the end of the connection (the server hung up); on one that
    listens, notifications too. A poll of its socket: about 1 µs."""
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return False
    readable, _, _ = select.select([fileno()], [], [], 0)
    return bool(readable)


def one_line(error: BaseException) -> str:
    """The error's class and its first two lines, the cause rather than SQLAlchemy's wrapper."""
    if isinstance(error, UowError):
        return str(error)
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {' '.join(lines[:2])}" if lines else type(cause).__name__


def cause_line(error: BaseException) -> str:
    """The error's class and its first line only, for errors of the application's own code
    (a seed, a migration): the second line of a statement's error is the statement."""
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__


def sqlstate(error: BaseException) -> str | None:
    """The five-character SQLSTATE the server sent, if the error came from the server."""
    orig = getattr(error, "orig", None)
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    return str(code) if code else None


def server_code(error: BaseException) -> str | None:
    """The SQLSTATE of a server error, wrapped by SQLAlchemy or raised by the driver itself (a
    libpq connection of the test's own), found anywhere in its chain of causes."""
    seen: BaseException | None = error
    while seen is not None:
        code = sqlstate(seen) or getattr(seen, "pgcode", None) or getattr(seen, "sqlstate", None)
        if isinstance(code, str) and code:
            return code
        seen = seen.__cause__ or seen.__context__
    return None


def is_connection_failure(error: BaseException) -> bool:
    """Whether the error may mean the server itself is gone (as opposed to a failed statement)."""
    if not isinstance(error, DBAPIError):
        return False
    code = sqlstate(error)
    return error.connection_invalidated or code is None or code[:2] in ("08", "57")


# libpq's connection errors carry no SQLSTATE: they are recognised by their text.
_CONNECTION_REMEDIES = (
    (re.compile(r"password authentication failed|no password supplied"), "password"),
    (re.compile(r'role ".*" does not exist|no pg_hba\.conf entry'), "user"),
    (re.compile(r'database ".*" does not exist'), "database"),
)
_SERVER_CLASS_REMEDIES = {
    "53": "the server is short of disk space, memory or connections: free some there and run again",
    "57": "the server is shutting down or was restarted: run again once it is up",
    "08": "the connection to the server broke: check the server and the network",
}


def remedy(
    error: BaseException, server: str | None, tables: str, creating_tables: bool, privilege: str
) -> str:
    """What the user should do about ``error`` met while preparing the worker's namespace ("" if
    there is nothing more useful to say than the error itself).

    ``server`` names the server setting and its source (None for the throwaway server),
    ``tables`` what builds the tables, as messages name them, and ``privilege`` what the
    isolation mode needs on the server.
    """
    where = server or "uow_database_url"
    code = sqlstate(error)
    if code is not None and code[:2] in _SERVER_CLASS_REMEDIES:
        return _SERVER_CLASS_REMEDIES[code[:2]]
    if code == "42501":
        return f"the user named in {where} needs {privilege}"
    if creating_tables and not is_connection_failure(error):
        return f"a table of {tables} could not be created: fix the model or its DDL"
    if code is not None or server is None or not isinstance(error, DBAPIError):
        return ""
    message = str(error.orig)
    for pattern, what in _CONNECTION_REMEDIES:
        if pattern.search(message):
            if what == "database":
                return f"create that database, or name an existing one in {where}"
            if what == "password":
                return f"check the user name and password in {where}"
            return f"check the user name in {where}, and that the server lets it connect"
    return f"check that the server is running and that {where} names its host and port"
