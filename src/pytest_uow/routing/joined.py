"""An application engine's connections inside the test's transaction, under ``rollback``.

Every application engine that connects to the configured database while a test runs is handed
the test's own DBAPI connection (``router.py``). What the application does with a transaction
must then act on a savepoint, as SQLAlchemy's ``join_transaction_mode="create_savepoint"`` does
for a session: beginning opens one, ``commit()`` releases it, ``rollback()`` returns to it. The
savepoint is opened when the application's connection begins (not when the test does), so it
nests inside whatever the test's own sessions hold open, and their savepoints stay valid.

The driver's connection must stay the driver's own type (the dialect's on-connect hooks, such as
psycopg2's ``register_uuid``, need it), so what changes is the application engine's dialect: its
documented ``Dialect`` methods that end transactions, change a connection's characteristics or
close it act on a savepoint, or do nothing, when the connection is one the plugin lent; on any
other connection they are the dialect's own. They are set on the dialect instance, never on its
class, and removed exactly when the run's namespace closes (``OverriddenDialects.restore``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Dialect

from pytest_uow.errors import UowError
from pytest_uow.savepoints import stack_of

# The dialect methods that would end the test's transaction, alter its connection or close it.
# Those that take the pool's proxy (``PoolProxiedConnection``) per checkout, and those that take
# the DBAPI connection itself.
_PER_CHECKOUT = ("do_begin", "do_commit", "do_rollback")
_ON_THE_CONNECTION = (
    "do_close",
    "do_terminate",
    "set_isolation_level",
    "reset_isolation_level",
    "set_readonly",
    "set_deferrable",
)
_names = itertools.count(1)


class JoinedConnection:
    """A DBAPI connection of the plugin's, lent to application engines: the savepoints their
    checkouts hold on it, innermost last."""

    def __init__(self, dbapi_connection: Any, driver: tuple[str, bool]) -> None:
        self.dbapi_connection = dbapi_connection
        self.driver = driver
        self.joined = False  # a test runs in its transaction: savepoints are taken
        self.begun = 0  # how many transactions application engines began on it
        self._savepoints: list[tuple[object, str]] = []  # (the checkout's proxy, name)

    def _execute(self, statement: str) -> None:
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()

    def _index(self, checkout: object) -> int | None:
        for index, (holder, _) in enumerate(self._savepoints):
            if holder is checkout:
                return index
        return None

    def begin(self, checkout: object) -> None:
        if self.joined and self._index(checkout) is None:
            self.begun += 1
            name = f"uow_app_{next(_names)}"
            self._execute(f"SAVEPOINT {name}")
            self._savepoints.append((checkout, name))
            stack = stack_of(self.dbapi_connection)
            if stack is not None:
                stack.opened(name)

    def commit(self, checkout: object) -> None:
        """Release the checkout's savepoint (and, as PostgreSQL does, any opened after it),
        unless scoped data keeps it (``savepoints.SavepointStack``)."""
        name = self._take(checkout)
        if name is None:
            return
        stack = stack_of(self.dbapi_connection)
        if stack is None or stack.release(name):
            self._execute(f"RELEASE SAVEPOINT {name}")

    def rollback(self, checkout: object) -> None:
        name = self._take(checkout)
        if name is None:
            return
        stack = stack_of(self.dbapi_connection)
        target = name if stack is None else stack.rollback_target(name)
        self._execute(f"ROLLBACK TO SAVEPOINT {target or name}")
        if target in (None, name):
            self._execute(f"RELEASE SAVEPOINT {name}")
            if stack is not None:
                stack.released(name)

    def _take(self, checkout: object) -> str | None:
        """The name of the checkout's savepoint, which ends now with those opened after it."""
        index = self._index(checkout)
        if index is None:
            return None
        name = self._savepoints[index][1]
        del self._savepoints[index:]
        return name

    def join(self) -> None:
        self._savepoints.clear()
        self.joined = True

    def leave(self) -> None:
        """The test's transaction is about to end: the savepoints go with it."""
        self._savepoints.clear()
        self.joined = False


def _dbapi_of(checkout: Any) -> Any:
    """The DBAPI connection behind a pool's proxy (``dbapi_connection`` since SQLAlchemy 1.4.24,
    ``connection`` before), or the DBAPI connection itself: SQLAlchemy 1.4 rolls back the raw
    connection after a dialect's first connect."""
    for name in ("dbapi_connection", "connection"):
        inner = getattr(checkout, name, None)
        if inner is not None:
            return inner
    return checkout


class OverriddenDialects:
    """The application dialects whose transaction methods know about lent connections."""

    def __init__(self, lent: Callable[[Any], JoinedConnection | None]) -> None:
        """``lent`` finds the ``JoinedConnection`` of a DBAPI connection the plugin lent."""
        self._lent = lent
        self._originals: dict[int, tuple[Dialect, dict[str, Any]]] = {}

    def override(self, dialect: Dialect) -> None:
        if id(dialect) in self._originals:
            return
        instance = vars(dialect)
        names = (*_PER_CHECKOUT, *_ON_THE_CONNECTION)
        saved = {name: instance[name] for name in names if name in instance}
        self._originals[id(dialect)] = (dialect, saved)
        lent = self._lent
        for name in _PER_CHECKOUT:
            original = getattr(dialect, name)
            setattr(dialect, name, _per_checkout(name, original, lent))
        for name in _ON_THE_CONNECTION:
            original = getattr(dialect, name, None)
            if original is not None:
                setattr(dialect, name, _on_the_connection(name, original, lent))

    def restore(self) -> None:
        """Every dialect as it was: its own methods again."""
        for dialect, saved in self._originals.values():
            for name in (*_PER_CHECKOUT, *_ON_THE_CONNECTION):
                if name in saved:
                    setattr(dialect, name, saved[name])
                else:
                    vars(dialect).pop(name, None)
        self._originals.clear()


def _per_checkout(
    name: str, original: Callable[[Any], None], lent: Callable[[Any], JoinedConnection | None]
) -> Callable[[Any], None]:
    def act(checkout: Any) -> None:
        joined = lent(_dbapi_of(checkout))
        if joined is None:
            original(checkout)
        else:
            getattr(joined, name.removeprefix("do_"))(checkout)

    return act


AUTOCOMMIT_REFUSAL = (
    "an application connection asked for AUTOCOMMIT while it shares the test's transaction "
    "(the rollback strategy): what needs autocommit (CREATE DATABASE, VACUUM) cannot run in "
    "it; create that engine with isolation_level='AUTOCOMMIT', whose connections commit for "
    "real in the worker namespace, or mark the test @pytest.mark.uow(strategy='truncate')"
)


def _on_the_connection(
    name: str, original: Callable[..., Any], lent: Callable[[Any], JoinedConnection | None]
) -> Callable[..., Any]:
    """A lent connection keeps the test's transaction and characteristics, whatever is asked:
    except autocommit, which would end the transaction, and is refused."""

    def act(dbapi_connection: Any, *args: Any, **kwargs: Any) -> Any:
        if lent(dbapi_connection) is None:
            return original(dbapi_connection, *args, **kwargs)
        if name == "set_isolation_level" and args and args[0] == "AUTOCOMMIT":
            raise UowError(AUTOCOMMIT_REFUSAL)
        return None

    return act
