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
