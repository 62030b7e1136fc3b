"""``rollback``: one connection and one outer transaction per test, rolled back at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from pytest_uow.binding import Binding
from pytest_uow.savepoints import JOIN_OPTIONS, join_sessions, release
from pytest_uow.strategies.base import ResetTarget


class RollbackStrategy:
    """Sessions join the test's transaction through savepoints (SQLAlchemy's "Joining a Session
    into an External Transaction" recipe, in its 2.0 or 1.4 form: ``savepoints.py``): the
    application's ``commit()`` releases a savepoint and its ``rollback()`` returns to one, so it
    behaves as in production while nothing it writes survives the test. Where wider-scoped
    fixtures keep rows, the test's transaction is a savepoint above theirs
    (``namespace/levels.py``).
    """

    name: ClassVar[str] = "rollback"
    undoes_every_connection: ClassVar[bool] = False
    rebuilds_namespace: ClassVar[bool] = False

    @contextmanager
    def isolate(self, target: ResetTarget) -> Iterator[Binding]:
        target.sequences_may_have_advanced()
        with target.rolled_back() as connection:
            join_sessions(connection)
            try:
                yield Binding(connection, connection, JOIN_OPTIONS)
            finally:
                release(connection)
