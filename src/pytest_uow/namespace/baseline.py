"""The worker namespace's baseline: what every reset returns it to, and the one owner of whether
it holds only that now. It is the strategies' ``ResetTarget``.

The baseline is what the build left (the tables, and the rows of a seed or of the migrations).
``rollback`` leaves no rows but may advance sequences; ``truncate`` empties what left the
baseline (``cleaning.py``); ``recreate`` rebuilds. Rows are checked against the baseline by the
leak detector too, so that baseline rows are never reported as leaks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from pytest_uow.diagnosis import has_input, sqlstate
from pytest_uow.isolation.base import Isolation
from pytest_uow.leftovers.escapes import (
    MARK_UNWATCHED,
    Heard,
    Listener,
    Write,
    heard_on,
    listen_sql,
)
from pytest_uow.leftovers.leaks import LeakDetector
from pytest_uow.leftovers.locks import Backend
from pytest_uow.leftovers.naming import ConnectionNames
from pytest_uow.namespace.cleaning import Table, TableCleaner
from pytest_uow.namespace.engines import WorkerEngines
from pytest_uow.namespace.levels import KeptLevels, Level
from pytest_uow.savepoints import track_savepoints
from pytest_uow.sources.base import SchemaSource

# A table, schema or column of the build is gone (undefined_table, invalid_schema_name,
# undefined_column, undefined_object).
_DESTROYED = frozenset({"42P01", "3F000", "42703", "42704"})


class Baseline:
    """The reset target of a worker namespace that was just built."""

    def __init__(
        self,
        engines: WorkerEngines,
        isolation: Isolation,
        source: SchemaSource,
        names: ConnectionNames,
        before_database_replaced: Callable[[], None],
        before_reset: Callable[[], None],
    ) -> None:
        """``before_database_replaced`` releases what else is connected to a worker database
        that ``recreate`` is about to replace (the async engines' connections);
        ``before_reset`` ends the transactions application connections still hold in it."""
        self._engines = engines
        self.engine = engines.engine
        self._isolation = isolation
        self._source = source
        self._names = names
        self._before_database_replaced = before_database_replaced
        self._before_reset = before_reset
        self._cleaner: TableCleaner | None = None
        self._leak_detector: LeakDetector | None = None
        self._kept: Connection | None = None
        # Scoped data under rollback: the kept connection's savepoint per fixture, and
        # whether a kept connection that held some was replaced (its fixtures set up again).
        self.levels = KeptLevels()
        self.levels_lost = False
        # Escapes (``escapes.py``): whether the tables notify, who listens on the kept
        # connection, and whether everything committed before now was taken from it.
        self._watch_installed: bool | None = None  # None: not yet (False: no tables to watch)
        self._listener: Listener | None = None
        self._listener_current = False
        self._kept_listens = False  # a psycopg2 kept connection listens too
        self._heard = Heard()
        self._ended: list[Backend] = []  # terminated by a reset, until the test life asks
        # False once a test may have advanced a sequence, or left rows, without a reset after.
        self._at_baseline = True
        # Whether the build leaves rows (a seed, migrations): a rebuild then takes the baseline
        # again at once (50 ms at 200 tables); without, it stays "every table empty".
        self._has_rows = False

    def take(self) -> None:
        """The namespace was just built: note what it holds, and have its tables report other
        connections' commits while nobody else holds locks on them."""
        self._table_cleaner.take_baseline()
        self._has_rows = self._table_cleaner.baseline_has_rows
        self._watch_installed = self._table_cleaner.install_watch(self._names.base)

    @property
    def _table_cleaner(self) -> TableCleaner:
        if self._cleaner is None:
            self._cleaner = TableCleaner(
                self.engine, self._isolation.scope, self._names, self._ended.extend
            )
        return self._cleaner

    @property
    def leak_detector(self) -> LeakDetector:
        """Finds the rows a test left behind (``--uow-check-leaks``). Where the worker has a
        database of its own, rows written outside it are looked for in the server URL's."""
        if self._leak_detector is None:
            whole_database = self._isolation.scope.schema is None
            outside = self._engines.server if whole_database else None
            self._leak_detector = LeakDetector(
                self.engine, self._isolation.scope, outside, self._baseline_rows
            )
        return self._leak_detector

    def _baseline_rows(self) -> dict[str, tuple[int, tuple[str, ...]]]:
        """Per table with baseline rows: how many, and the transactions that wrote them."""
        rows = self._table_cleaner.baseline_rows
        return {name: (baseline.count, baseline.xmins) for name, baseline in rows.items()}

    def take_ended(self) -> list[Backend]:
        """The worker's backends terminated for holding locks (or for staying connected to a
        worker database that was replaced) since the last call."""
        ended = list(self._ended)
        self._ended.clear()
        return ended

    # What the strategies ask (ResetTarget).

    def test_connection(self) -> Connection:
        """A connection kept from test to test (the rollback strategy's): a pool checkout and
        checkin per test cost about as much as the rest of the strategy. It is replaced when it
        cannot serve as a fresh one would: closed or invalidated by the test, given execution
        options (an isolation level, say) by it, or hung up on by the server."""
        kept = self._kept
        if kept is not None and self._unusable(kept):
            self._discard_kept()
            kept = None
        if kept is None:
            track_savepoints(self.engine.dialect)
            kept = self._kept = self.engine.connect()
            self.levels.attach(kept)
            self._names.forget(kept)  # the plugin's, from test to test
            # What it writes is the test's own; where it is psycopg2's, it listens too, so
            # that a test's ROLLBACK brings what other connections committed meanwhile.
            self._kept_listens = isinstance(
                getattr(kept.connection.dbapi_connection, "notifies", None), list
            )
            channel = self._names.base
            kept.exec_driver_sql(listen_sql(channel) if self._kept_listens else MARK_UNWATCHED)
            kept.commit()
            self._heard.replaced("kept")
        else:
            self._end_kept_transaction()
        return kept

    @contextlib.contextmanager
    def rolled_back(self) -> Iterator[Connection]:
        """The kept connection inside the test's transaction (or, where scoped data holds its
        transaction, the test's savepoint above it), undone on exit."""
        connection = self.test_connection()
        self.levels.begin_test()
        try:
            yield connection
        finally:
            self.levels.end_test()

    def levels_intact(self) -> bool:
        """Before a test: whether the scoped data the kept connection held is still there (a
        kept connection that cannot serve the next test is replaced now)."""
        kept = self._kept
        if kept is not None and self.levels.holding and self._unusable(kept):
            self._discard_kept()
        lost, self.levels_lost = self.levels_lost, False
        return not lost

    def open_level(self) -> Level:
        """A wider-scoped fixture is set up in a ``rollback`` test (``levels.py``)."""
        return self.levels.open_level()

    def close_set_up(self, level: Level) -> bool:
        return self.levels.close_set_up(level)

    def end_levels(self, levels: list[Level]) -> None:
        self.levels.end_levels(levels)

    def push_layer(self) -> bool:
        """A wider-scoped fixture committed rows in a test with real commits: they are the
        baseline until ``pop_layer``. What was heard of those commits is no test's escape."""
        self._listener_current = False
        pushed = self._table_cleaner.push_layer()
        if pushed:
            self._at_baseline = True
        return pushed

    def pop_layer(self) -> None:
        self._end_kept_transaction()
        self._listener_current = False
        self._table_cleaner.pop_layer()

    @property
    def layers_lost(self) -> bool:
        """The layers' copies went with the cleaner's connection (after an error)."""
        cleaner = self._cleaner
        lost = cleaner is not None and cleaner.layers_lost
        if lost:
            assert cleaner is not None
            cleaner.layers_lost = False
        return lost

    def _unusable(self, kept: Connection) -> bool:
        return (
            kept.closed
            or kept.invalidated
            or kept.get_execution_options() != self.engine.get_execution_options()
            or self._hung_up(kept)
        )

    def _hung_up(self, kept: Connection) -> bool:
        """Whether the server closed the idle kept connection: it has something to read only
        then, or, where it listens, when notifications came (read now)."""
        dbapi_connection: Any = kept.connection.dbapi_connection
        if not has_input(dbapi_connection):
            return False
        if not self._kept_listens:
            return True
        try:
            dbapi_connection.poll()
        except Exception:  # the driver's error: the server hung up
            return True
        return False

    def watch_escapes(self) -> bool:
        """Before a test whose writes through other connections nothing would undo (under
        ``rollback``, or with no isolation): from now on, other connections' commits are
        heard. False where the namespace has no tables to watch. A listener that has not
        heard everything up to now (real commits ran since) is fenced first: one round trip.
        """
        if self._watch_installed is None:
            self._watch_installed = self._table_cleaner.install_watch(self._names.base)
        if not self._watch_installed:
            return False
        if self._listener is None:
            dsn = self.engine.url.set(drivername="postgresql")
            self._listener = Listener(dsn.render_as_string(hide_password=False), self._names.base)
        elif not self._listener_current:
            try:
                self._heard.new(self._listener.fence(), "async")  # heard, and not the test's
            except SQLAlchemyError:
                self._close_listener()
                raise
        self._listener_current = True
        self._kept_heard()  # before the test: not the test's either
        return True

    def _kept_heard(self) -> list[Write] | None:
        """What the kept connection heard that the listener has not; None where it does not
        listen, or the server hung up on it."""
        kept = self._kept
        if not self._kept_listens or kept is None or kept.closed or kept.invalidated:
            return None
        try:
            heard = heard_on(kept.connection.dbapi_connection, self._names.base)
        except Exception:  # the driver's error: the server hung up
            return None
        return self._heard.new(heard, "kept")

    def kept_brings_escapes(self) -> bool:
        """Before a ``rollback`` test's reset: whether its ``ROLLBACK`` will bring every
        notification of the test (the kept connection listens, and its transaction is open
        on the server), so that no question needs asking."""
        kept = self._kept
        if not self._kept_listens or kept is None or kept.closed or kept.invalidated:
            return False
        if self.levels.holding:  # the reset is a rollback to a savepoint: nothing delivered
            return False
        dbapi_connection: Any = kept.connection.dbapi_connection
        status = dbapi_connection.info.transaction_status
        return int(status) != 0  # libpq's PQTRANS_IDLE

    def kept_escapes(self) -> list[Write] | None:
        """After that reset: what other connections committed during the test."""
        return self._kept_heard()

    def end_watch(self) -> None:
        """The watched test is over: the question whose answer tells what it let escape is
        sent, and not waited for."""
        if self._listener is not None:
            try:
                self._listener.ask()
            except SQLAlchemyError:
                self._close_listener()

    def escaped_writes(self) -> list[Write] | None:
        """What other connections committed since the watch began, up to ``end_watch``; None
        where nobody knows (the listener failed: then the tables are probed)."""
        if self._listener is None:
            return None
        try:
            return self._heard.new(self._listener.answer(), "async")
        except SQLAlchemyError:
            self._close_listener()
            return None

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            self._heard.replaced("async")

    def tables_in_order(self, connection: Connection) -> list[Table]:
        """The namespace's tables, parents first."""
        return self._table_cleaner.tables_in_order(connection)

    def written(self, connection: Connection) -> list[tuple[str, int, int]]:
        """What left the baseline as ``connection`` sees it: per table, its qualified name, the
        rows it holds, and how many of them the baseline did not have."""
        return self._table_cleaner.written(connection)

    def engine_like(self, original_bind: object) -> Engine:
        return self._engines.like(original_bind)

    def sequences_may_have_advanced(self) -> None:
        self._at_baseline = False

    def may_hold_rows(self) -> None:
        """Something outside the strategies (a failed reset) may have left rows."""
        self._at_baseline = False

    def ensure_baseline(self) -> None:
        # Real commits follow: their notifications are no test's escape.
        self._listener_current = False
        if not self._at_baseline:
            self.empty()

    def empty(self) -> None:
        """Return the tables that left the baseline to it (the truncate strategy, and leaks
        found)."""
        self.restore()

    def restore(self) -> list[str]:
        """Return the tables that left the baseline to it, and name them. Where the baseline's
        copies were lost with the cleaner's connection (after an error, which was reported),
        the namespace is rebuilt instead, and no table is named: what changed is unknown."""
        self._before_reset()
        self._end_kept_transaction()
        self._at_baseline = False
        self._listener_current = False
        cleaner = self._table_cleaner
        if cleaner.baseline_lost:
            self.rebuild()
            return []
        try:
            changed = cleaner.clean()
        except SQLAlchemyError as error:
            if sqlstate(error) not in _DESTROYED:
                raise
            # The test (or a fixture's drop_all) dropped what the build made: built again.
            self._cleaner = None
            cleaner.close()
            self.rebuild()
            self._table_cleaner.take_baseline()
            return []
        self._at_baseline = True
        return changed

    def rebuild(self) -> None:
        """Drop the namespace and build it again (recreate). Where the rebuild replaces a
        database, the worker's own connections to it go first: a database cannot be dropped while
        anything is connected to it. A worker schema is rebuilt beside them (reconnecting all
        of them cost ``recreate`` 5 ms a test at 10 tables)."""
        self._before_reset()
        self._at_baseline = False
        self._listener_current = False
        self._watch_installed = None  # the tables are new
        if self._cleaner is not None:
            self._cleaner.forget_layers()
        if self._isolation.rebuild_replaces_database:
            self.close()
            self.engine.dispose()
            self._before_database_replaced()
        else:
            self._end_kept_transaction()
            if self._cleaner is not None:
                self._cleaner.forget_tables()
        self._ended += self._isolation.rebuild(
            self._engines.server, self.engine, self._source, self._names
        )
        if self._has_rows:
            self._table_cleaner.take_baseline()
        self._at_baseline = True

    def _end_kept_transaction(self) -> None:
        """A session the test did not close may begin a transaction on the kept connection
        when it is collected; ended before anything that needs the tables' locks."""
        kept = self._kept
        if self.levels.holding:  # scoped data: its transaction is held on purpose
            return
        if kept is not None and not kept.closed and kept.in_transaction():
            kept.rollback()

    def _discard_kept(self) -> None:
        if self.levels.detach():
            self.levels_lost = True
        self._heard.replaced("kept")
        kept, self._kept = self._kept, None
        if kept is not None:
            with contextlib.suppress(SQLAlchemyError):
                kept.invalidate()
            kept.close()

    def close(self) -> None:
        """The kept test connection, the cleaner's and the leak detector's (which reconnect
        when next needed)."""
        self._discard_kept()
        self._close_listener()
        if self._cleaner is not None:
            self._cleaner.close()
            self._cleaner = None
        if self._leak_detector is not None:
            self._leak_detector.close()
