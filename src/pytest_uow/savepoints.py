"""How sessions join the test's transaction under ``rollback``, on every SQLAlchemy version.

SQLAlchemy 2.0 has an option for it: sessions get ``join_transaction_mode="create_savepoint"``
(``JOIN_OPTIONS``). SQLAlchemy 1.4 has none; its "Joining a Session into an External
Transaction" recipe relies on what a 1.4 session does with a connection that is inside a
savepoint: it uses that savepoint as its own transaction, so its ``commit()`` releases it and its
``rollback()`` returns to it, and the outer transaction is never touched. The recipe keeps the
connection inside a savepoint: one begun with the test, and a new one whenever a session's
transaction ends and leaves none (one listener for every session class; it acts only on the
connections of the test that is running).
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from pytest_uow.compat import SQLALCHEMY_2

JOIN_OPTIONS: dict[str, Any] = {"join_transaction_mode": "create_savepoint"} if SQLALCHEMY_2 else {}

_kept: weakref.WeakSet[Connection] = weakref.WeakSet()


def _ensure_savepoint(connection: Connection) -> None:
    if (
        not connection.closed
        and not connection.invalidated
        and connection.in_transaction()
        and not connection.in_nested_transaction()
    ):
        connection.begin_nested()


def join_sessions(connection: Connection) -> None:
    """Sessions bound to ``connection`` (inside the test's transaction) join it through
    savepoints from now on (on SQLAlchemy 1.4; on 2.0 ``JOIN_OPTIONS`` does it)."""
    if not SQLALCHEMY_2:
        _kept.add(connection)
        _ensure_savepoint(connection)


def release(connection: Connection) -> None:
    """The test is over: ``connection`` is left alone."""
    _kept.discard(connection)


if not SQLALCHEMY_2:

    @event.listens_for(Session, "after_transaction_end")
    def _begin_again(session: Session, transaction: Any) -> None:
        for connection in list(_kept):
            _ensure_savepoint(connection)


# The server's savepoints on the kept connection, which scoped data nests (``namespace/levels.py``).


class SavepointStack:
    """The savepoints open on one DBAPI connection, as the server holds them, innermost last.

    Three kinds of owner open them: the plugin (a level of scoped data, and the test's own
    savepoint above those levels: its *marks*), the sessions bound to the connection, and the
    application connections lent it (``routing/joined.py``). PostgreSQL releases or rolls back
    a savepoint together with every one opened after it; so a session whose savepoint was opened
    before a mark (a scoped fixture's session that read after its last commit, say) would take
    the mark with it when it commits, and every test after would fail with ``savepoint "..."
    does not exist``. Here such a savepoint is *detached*: its release does nothing (what it
    wrote stays in the level it was written in), and a rollback to it returns to the innermost
    mark instead (undoing what the running test did). A savepoint that is no longer on the
    server (it went with an outer one) is released as nothing, and rolled back to the innermost
    mark, or, with no mark, left to the server to refuse as before.
    """

    def __init__(self) -> None:
        self._open: list[tuple[str, bool]] = []  # (name, is a mark), innermost last
        self._detached: set[str] = set()

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._open]

    def _index(self, name: str) -> int | None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == name:
                return index
        return None

    def opened(self, name: str, mark: bool = False) -> None:
        self._open.append((name, mark))
        self._detached.discard(name)

    def detach_above(self, mark: str) -> None:
        """What sessions and connections left open above ``mark`` stays on the server but is
        theirs no longer (see the class)."""
        index = self._index(mark)
        if index is not None:
            self._detached.update(name for name, is_mark in self._open[index + 1 :] if not is_mark)

    def release(self, name: str) -> bool:
        """Whether releasing ``name`` goes to the server; noted as done if so."""
        index = self._index(name)
        if index is None or name in self._detached:
            return False
        if any(is_mark for _, is_mark in self._open[index + 1 :]):
            self._detached.add(name)
            return False
        del self._open[index:]
        return True

    def rollback_target(self, name: str) -> str | None:
        """The savepoint a rollback to ``name`` goes to (``name`` itself, or the innermost mark
        above what it may undo), None where it is left to the server; noted as done."""
        index = self._index(name)
        if (
            index is not None
            and name not in self._detached
            and not any(is_mark for _, is_mark in self._open[index + 1 :])
        ):
            self.rolled_back_to(name)
            return name
        marks = [position for position, (_, is_mark) in enumerate(self._open) if is_mark]
        if not marks:
            return None
        target = self._open[marks[-1]][0]
        self.rolled_back_to(target)
        return target

    def rolled_back_to(self, name: str) -> None:
        """``ROLLBACK TO SAVEPOINT name`` ran: what was opened after it is gone."""
        index = self._index(name)
        if index is not None:
            gone = self._open[index + 1 :]
            del self._open[index + 1 :]
            self._detached.difference_update(gone_name for gone_name, _ in gone)

    def released(self, name: str) -> None:
        """``RELEASE SAVEPOINT name`` ran: it is gone, with what was opened after it."""
        index = self._index(name)
        if index is not None:
            gone = self._open[index:]
            del self._open[index:]
            self._detached.difference_update(gone_name for gone_name, _ in gone)

    def clear(self) -> None:
        """The transaction ended: no savepoint is left."""
        self._open.clear()
        self._detached.clear()


_stacks: dict[int, SavepointStack] = {}  # by id of the DBAPI connection


def stack_of(dbapi_connection: Any) -> SavepointStack | None:
    """The savepoint stack kept for a DBAPI connection (the kept test connection's), if any."""
    return _stacks.get(id(dbapi_connection))


def keep_stack(dbapi_connection: Any) -> SavepointStack:
    stack = _stacks[id(dbapi_connection)] = SavepointStack()
    return stack


def drop_stack(dbapi_connection: Any) -> None:
    _stacks.pop(id(dbapi_connection), None)


def dbapi_of(connection: Connection) -> Any:
    """The DBAPI connection of a ``Connection`` (``dbapi_connection`` since SQLAlchemy
    1.4.24, ``connection`` before)."""
    proxy: Any = connection.connection
    return getattr(proxy, "dbapi_connection", None) or proxy.connection


_SAVEPOINT_METHODS = ("do_savepoint", "do_release_savepoint", "do_rollback_to_savepoint")


def track_savepoints(dialect: Any) -> None:
    """Savepoints that sessions open through ``dialect`` on a connection with a stack are kept
    on it (``SavepointStack``). The documented ``Dialect`` methods are set on the instance
    (the worker engine's dialect, the plugin's own), never on its class; on any other
    connection they are the dialect's own."""
    instance = vars(dialect)
    if "do_savepoint" in instance:
        return
    savepoint, release_savepoint, rollback_to_savepoint = (
        getattr(dialect, name) for name in _SAVEPOINT_METHODS
    )

    def do_savepoint(connection: Connection, name: str) -> None:
        savepoint(connection, name)
        stack = stack_of(dbapi_of(connection))
        if stack is not None:
            stack.opened(name)

    def do_release_savepoint(connection: Connection, name: str) -> None:
        stack = stack_of(dbapi_of(connection))
        if stack is None or stack.release(name):
            release_savepoint(connection, name)

    def do_rollback_to_savepoint(connection: Connection, name: str) -> None:
        stack = stack_of(dbapi_of(connection))
        target = name if stack is None else stack.rollback_target(name)
        if target is None:
            target = name
        rollback_to_savepoint(connection, target)

    instance["do_savepoint"] = do_savepoint
    instance["do_release_savepoint"] = do_release_savepoint
    instance["do_rollback_to_savepoint"] = do_rollback_to_savepoint
