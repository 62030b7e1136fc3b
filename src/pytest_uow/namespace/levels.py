"""Scoped data under ``rollback``: the rows a fixture of a wider scope than the test (class,
module, package, session) writes live as long as that fixture, on the kept test connection.

The kept connection's transaction is then held from test to test. Each such fixture gets a
savepoint opened before its set-up (a *level*); the running test gets one above every level
(``uow_test``), and its reset is a rollback to it, one round trip, as a test's reset without
levels is one ``ROLLBACK``. A level ends with a rollback to its savepoint when its fixture is
finalized; once no level is left the transaction ends. A fixture that wrote nothing keeps no
level: whether it wrote is read from the server (a savepoint that wrote holds a lock on its
transaction id until it ends), so fixtures that never touch the database cost nothing here.

Sessions and application connections that left a savepoint open during a fixture's set-up (a
session that read after its last commit) would take the test's savepoint with them when they
commit later: their savepoints are detached (``savepoints.SavepointStack``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from pytest_uow.savepoints import SavepointStack, dbapi_of, drop_stack, keep_stack

TEST_MARK = "uow_test"
_WRITTEN_LOCKS = (
    "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'transactionid'"
)


@dataclass
class Level:
    """One fixture's savepoint; ``locks`` counts the transaction-id locks before its set-up."""

    name: str
    locks: int
    set_up: bool = False


class KeptLevels:
    """The levels on the kept connection, and the transaction that holds them."""

    def __init__(self) -> None:
        self._connection: Connection | None = None
        self._stack: SavepointStack | None = None
        self._levels: list[Level] = []  # in the server's order, innermost last
        self._test_mark = False  # ``uow_test`` is open above the levels
        self._names = itertools.count(1)

    @property
    def holding(self) -> bool:
        """Whether the kept connection's transaction holds scoped data (or a set-up that may
        write some is under way): it is then not ended between tests."""
        return bool(self._levels)

    def attach(self, connection: Connection) -> None:
        """A new kept connection: its savepoints are kept track of from now on."""
        self._connection = connection
        self._stack = keep_stack(dbapi_of(connection))

    def detach(self) -> bool:
        """The kept connection goes: whether scoped data went with it."""
        lost = bool(self._levels)
        connection, self._connection = self._connection, None
        if connection is not None:
            drop_stack(dbapi_of(connection))
        self._stack = None
        self._levels.clear()
        self._test_mark = False
        return lost

    def _execute(self, statement: str) -> None:
        assert self._connection is not None
        self._connection.exec_driver_sql(statement)

    def begin_test(self) -> None:
        """Before a ``rollback`` test on the kept connection: its transaction, or, where levels
        hold it, the test's savepoint above them."""
        connection, stack = self._connection, self._stack
        assert connection is not None
        assert stack is not None
        if not self._levels:
            if connection.in_transaction():  # begun after the last test (a fixture's teardown)
                connection.rollback()
            connection.begin()
            stack.clear()
        elif not self._test_mark:
            self._mark_test()

    def _mark_test(self) -> None:
        assert self._stack is not None
        self._execute(f"SAVEPOINT {TEST_MARK}")
        self._stack.opened(TEST_MARK, mark=True)
        self._test_mark = True

    def end_test(self) -> None:
        """After a ``rollback`` test: its writes are undone, the levels kept."""
        stack = self._stack
        assert stack is not None
        if not self._levels:
            self._end_transaction()
            return
        if self._test_mark:
            self._execute(f"ROLLBACK TO SAVEPOINT {TEST_MARK}")
            stack.rolled_back_to(TEST_MARK)

    def open_level(self) -> Level:
        """Before a wider-scoped fixture's set-up, in a ``rollback`` test: its savepoint, below
        the test's (what the test wrote before stays with the levels under it)."""
        stack = self._stack
        assert stack is not None
        if self._test_mark:
            self._execute(f"RELEASE SAVEPOINT {TEST_MARK}")
            stack.released(TEST_MARK)
            self._test_mark = False
        name = f"uow_scope_{next(self._names)}"
        self._execute(f"SAVEPOINT {name}")
        stack.opened(name, mark=True)
        level = Level(name, self._locks())
        self._levels.append(level)
        return level

    def _locks(self) -> int:
        assert self._connection is not None
        return int(self._connection.exec_driver_sql(_WRITTEN_LOCKS).scalar_one())

    def close_set_up(self, level: Level) -> bool:
        """The fixture's set-up is over: whether it wrote (then its level stays until
        ``end_levels``; else it goes at once). The test's savepoint is opened again once no
        set-up is under way."""
        stack = self._stack
        assert stack is not None
        wrote = self._locks() > level.locks
        if wrote:
            level.set_up = True
            stack.detach_above(level.name)
        else:
            self._execute(f"RELEASE SAVEPOINT {level.name}")
            stack.released(level.name)
            self._levels.remove(level)
        if self._levels and all(other.set_up for other in self._levels):
            self._mark_test()
        return wrote

    def abandon_set_up(self, level: Level) -> None:
        """The fixture's set-up failed: what it wrote goes, and its level with it."""
        stack = self._stack
        if stack is None or level not in self._levels:
            return
        self._execute(f"ROLLBACK TO SAVEPOINT {level.name}")
        self._execute(f"RELEASE SAVEPOINT {level.name}")
        stack.released(level.name)
        del self._levels[self._levels.index(level) :]
        if self._levels and all(other.set_up for other in self._levels):
            self._mark_test()

    def end_levels(self, levels: list[Level]) -> None:
        """Those levels' fixtures were finalized (with every level opened after them): their
        rows go; once no level is left, the transaction ends."""
        stack = self._stack
        assert stack is not None
        ending = [level for level in self._levels if level in levels]
        if not ending:
            return
        lowest = self._levels.index(ending[0])
        name = self._levels[lowest].name
        del self._levels[lowest:]
        self._test_mark = False
        if not self._levels:
            self._end_transaction()
            return
        self._execute(f"ROLLBACK TO SAVEPOINT {name}")
        self._execute(f"RELEASE SAVEPOINT {name}")
        stack.released(name)

    def _end_transaction(self) -> None:
        """Roll back what the connection holds: the test's transaction, or the one the levels
        held (or one a session began after they ended)."""
        connection = self._connection
        if connection is not None and not connection.closed and connection.in_transaction():
            connection.rollback()
        if self._stack is not None:
            self._stack.clear()
