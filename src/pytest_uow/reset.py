"""One test's life with the database, and the one rule for which tests get it.

The life: isolate (the strategy opens the test's binding, the application's factories are
re-bound to it) → the test runs → reset (leaving the isolation undoes the test's writes) → leak
check → at most one line of failure naming the test. It is owned here, by one object, driven by
the runtest hooks (``begin`` before every fixture is set up, ``end`` after every fixture is
torn down), so that the fixtures stay thin and the per-test path stays short: a fixture that
takes ``request`` costs pytest a new fixture definition per test.
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import time
import warnings
from contextlib import AbstractContextManager
from typing import NoReturn

import pytest
from sqlalchemy.exc import SQLAlchemyError

from pytest_uow.aio.test_side import AsyncTestSide
from pytest_uow.binding import Binding
from pytest_uow.current import CURRENT
from pytest_uow.errors import DatabaseSetupError, UowError, UowWarning
from pytest_uow.leftovers.escapes import Write, tables_written, writers
from pytest_uow.leftovers.leaks import leak_report
from pytest_uow.leftovers.locks import describe_backends, is_lock_timeout
from pytest_uow.migrations.items import MigrationCheck
from pytest_uow.namespace.engines import isolation_level_of
from pytest_uow.namespace.worker import WorkerNamespace
from pytest_uow.needs import ASYNC_FIXTURES, FUNCTION_FIXTURES, SESSION_FIXTURES
from pytest_uow.scoped import scoped_data
from pytest_uow.sessions.registry import rebound
from pytest_uow.settings.resolve import Sourced
from pytest_uow.state import STATE, RunState
from pytest_uow.strategies.registry import MARKER, STRATEGIES, strategy_from_marker


class Need(enum.Enum):
    """What a test needs of the plugin."""

    NOTHING = "nothing"  # a migration check: it works in a namespace of its own
    UNASKED = "unasked"  # nothing asked; watched when the worker's namespace is open
    DATABASE = "database"  # the worker's database open: it uses only session fixtures
    ISOLATION = "isolation"  # its own isolation and reset

    @property
    def opens_database(self) -> bool:
        return self in (Need.DATABASE, Need.ISOLATION)


def need_of(item: pytest.Item, state: RunState, marker: pytest.Mark | None) -> Need:
    """The one rule: a test is isolated and reset when the application's factories are
    re-bound (every test may then write through them), when it carries the marker or matches a
    ``uow_strategies`` pattern, or when it uses a function-scoped fixture of the plugin (or
    the moment it turns out to need one: an application engine connects, a fixture is taken
    at run time; see ``begin``); it
    only needs the database open when it uses a session-scoped one. Tests of neither kind are
    still watched (see ``UnaskedTest``).
    ``marker`` is the item's closest ``uow`` marker, looked up once."""
    if isinstance(item, MigrationCheck):
        return Need.NOTHING
    names = getattr(item, "fixturenames", ())
    if (
        state.settings.adapters
        or marker is not None
        or not FUNCTION_FIXTURES.isdisjoint(names)
        or strategy_by_path(item, state) is not None
    ):
        return Need.ISOLATION
    if not SESSION_FIXTURES.isdisjoint(names):
        return Need.DATABASE
    return Need.UNASKED


def _fail(message: str) -> NoReturn:
    """One line, no traceback (called outside ``except`` blocks, so nothing is chained)."""
    pytest.fail(message, pytrace=False)


def open_database(state: RunState) -> WorkerNamespace:
    """The worker's namespace, open; else the test fails with the one kept reason."""
    try:
        return state.namespace.open()
    except DatabaseSetupError as error:
        message = str(error)
    _fail(message)


def strategy_by_path(item: pytest.Item, state: RunState) -> str | None:
    """The strategy ``uow_strategies`` gives the test's node id, if a pattern matches."""
    for pattern, strategy in state.settings.strategies.value:
        if fnmatch.fnmatchcase(item.nodeid, pattern):
            return strategy
    return None


def _strategy_name(item: pytest.Item, marker: pytest.Mark | None, state: RunState) -> str:
    """The marker's strategy, else ``uow_strategies``'s, else the run's."""
    default = strategy_by_path(item, state) or state.settings.strategy.value
    if marker is None:
        return default
    try:
        return strategy_from_marker(marker.args, marker.kwargs) or default
    except ValueError as error:
        message = f"@pytest.mark.{MARKER} on {item.nodeid}: {error}"
    _fail(message)


def begin(item: pytest.Item, state: RunState) -> None:
    """Before the test and all its fixtures: it is the running test (``CURRENT``: connections
    opened from here on carry its name), with its isolation if it needs one, or at least the
    worker's namespace open, and a watch on it. What the test before it let escape is
    settled first."""
    CURRENT.start(item.nodeid)
    unsettled = settle_escapes(item.config)
    if unsettled is not None:
        _fail(unsettled)
    marker = item.get_closest_marker(MARKER)
    need = need_of(item, state, marker)
    if state.namespace.is_open and not state.namespace.lost:
        # A test that asked for nothing may still be isolated on demand, with this strategy.
        real_commits = (
            need is not Need.NOTHING
            and STRATEGIES[_strategy_name(item, marker, state)].undoes_every_connection
        )
        scoped_data(item.config, state).before_test(real_commits)
    if need is Need.ISOLATION:
        life = TestLife(state, item, marker)
        life.start()
        item.stash[_LIFE] = life
        return
    if need is Need.DATABASE:
        open_database(state)
    if need is not Need.NOTHING and state.namespace.is_open and not state.namespace.lost:
        watch = UnaskedTest(state, item.nodeid)
        watch.start()
        item.stash[_WATCH] = watch
    if need in (Need.UNASKED, Need.DATABASE):
        CURRENT.isolate_on_demand = lambda: _isolate_now(item, state)


def _isolate_now(item: pytest.Item, state: RunState) -> None:
    """A test that asked for no isolation needs one after all (one of the application's
    engines connects during it, or it asks for a fixture at run time): it gets the run's
    strategy now, as if it had asked; its reset replaces the watch's probe, as for every
    isolated test."""
    life = TestLife(state, item, None)
    life.start()
    item.stash[_LIFE] = life
    if _WATCH in item.stash:
        del item.stash[_WATCH]


def end(item: pytest.Item, state: RunState) -> None:
    """After the test and all its fixtures: no test runs any more, then its reset and leak
    check."""
    CURRENT.clear()
    scoped = scoped_data(item.config, state)
    try:
        life = item.stash.get(_LIFE, None)
        if life is not None:
            del item.stash[_LIFE]
            if life.rebuilds:
                scoped.before_rebuild()
            life.finish()
        watch = item.stash.get(_WATCH, None)
        if watch is not None:
            del item.stash[_WATCH]
            watch.finish(item.config)
    finally:
        if state.namespace.is_open and not state.namespace.lost:
            scoped.settle()


class UnaskedTest:
    """A test with no isolation of its own, in a run whose worker namespace is open.

    It may still write there: ``PGOPTIONS`` routes every libpq connection it opens on its own
    into the namespace, and ``uow_engine`` commits for real. So it is watched
    (``EscapeWatch``): what it committed is found, the namespace returned to its baseline
    before the next test, and the test named, in a warning, or as its failure under
    ``--uow-check-leaks``, whose detector covers it too.
    """

    __test__ = False

    def __init__(self, state: RunState, test: str) -> None:
        self._namespace = state.namespace
        self._test = test
        self._check_leaks = state.settings.check_leaks
        self._escapes = EscapeWatch(state, test, None)

    def start(self) -> None:
        try:
            self._escapes.start()
            if self._check_leaks.value:
                self._namespace.baseline.leak_detector.start()
        except (SQLAlchemyError, UowError) as error:
            _fail(_failed(self._namespace, error, f"could not watch {self._test}"))

    def finish(self, config: pytest.Config) -> None:
        message = None
        if self._check_leaks.value:
            message = _leak_line(self._namespace, self._test, self._check_leaks, None)
        escaped = self._escapes.end(config)
        if message is None:
            message = escaped
        if message is not None:
            _fail(message)


UNISOLATED = "has no isolation of its own (no function-scoped uow fixture, no uow marker)"
GIVE_ISOLATION = (
    "give it one: a uow fixture (uow_session, uow_connection), uow_sessionmakers for the "
    "application's factories, or @pytest.mark.uow(strategy='truncate') for its own connections"
)


class EscapeWatch:
    """What other connections commit to the namespace while one test runs, which its reset
    does not undo (``leftovers/escapes.py``): under ``rollback`` every connection but the
    test's own, with no isolation every connection.

    A ``rollback`` test that used its connection has its transaction open on the server, and
    the kept connection listens too: the ``ROLLBACK`` brings every notification of the test,
    at no cost, and the test is settled at once. Otherwise, at the test's end the listener is
    asked, without waiting; the answer is read when the next test begins (or the run ends),
    before anything of that test runs. Either way, if anything was committed, the namespace
    is returned to its baseline and this test named in a warning. Under
    ``--uow-check-leaks`` the answer is waited for at once, so that rows left fail this test
    itself. Where nothing can be heard (the listener failed), the tables are probed instead.
    """

    __test__ = False

    def __init__(self, state: RunState, test: str, strategy: str | None) -> None:
        """``strategy`` is the test's, None for a test with no isolation of its own."""
        self._namespace = state.namespace
        self._test = test
        self._strategy = strategy
        self._check_leaks = state.settings.check_leaks
        self._watching = False
        self._rollback_brings_them = False

    def start(self) -> None:
        self._watching = self._namespace.baseline.watch_escapes()

    def before_reset(self) -> None:
        """A ``rollback`` test whose transaction is open on the kept connection, which listens
        too: its ``ROLLBACK`` brings what was committed meanwhile, and nothing is asked."""
        if self._watching:
            self._rollback_brings_them = self._namespace.baseline.kept_brings_escapes()

    def end(self, config: pytest.Config) -> str | None:
        """The test's isolation is over: settle now, with what its ``ROLLBACK`` brought, or
        ask, and settle when the next test begins; the line the test fails with, if any. A
        namespace without tables has nothing to watch."""
        if not self._watching:
            return None
        baseline = self._namespace.baseline
        if self._rollback_brings_them:
            return self.settle(baseline.kept_escapes())
        baseline.end_watch()
        if not self._check_leaks.value:
            config.stash[_PENDING] = self
            return None
        return self.settle_asked()

    def settle_asked(self) -> str | None:
        """Settle with the answer to the question ``end`` asked."""
        return self.settle(self._namespace.baseline.escaped_writes())

    def settle(self, writes: list[Write] | None) -> str | None:
        """Return the namespace to its baseline if anything escaped (``writes``, None where
        nobody knows: then the tables are probed), and name the test; the line it fails with
        under ``--uow-check-leaks`` when rows were left (else a warning)."""
        namespace = self._namespace
        baseline = namespace.baseline
        try:
            if writes == []:
                return None
            changed = baseline.restore()
        except (SQLAlchemyError, UowError) as error:
            baseline.may_hold_rows()
            return _failed(namespace, error, f"could not check {self._test} for rows")
        if writes or changed:
            CURRENT.note_reached()
        line = self._line(writes or [], changed)
        if line is None:
            return None
        if self._check_leaks.value and changed:  # a leak is rows left
            return f"{line} (uow_check_leaks, {self._check_leaks.source})"
        warnings.warn(UowWarning(line), stacklevel=1)
        return None

    def _line(self, writes: list[Write], changed: list[str]) -> str | None:
        if not writes and not changed:
            return None
        names = self._namespace.names
        label = self._namespace.label
        if self._strategy is None:
            if not changed:
                return None
            by = f" (committed by {writers(writes, names)})" if writes else ""
            return (
                f"pytest-uow: {self._test} {UNISOLATED} and left rows in {label}, now removed: "
                f"{', '.join(changed)}{by}; {GIVE_ISOLATION}"
            )
        written = (
            f"{tables_written(writes)}, committed by {writers(writes, names)}"
            if writes
            else ", ".join(changed)
        )
        left = (
            f"returned to the baseline: {', '.join(changed)}" if changed else "none of it was left"
        )
        return (
            f"pytest-uow: {self._test} wrote to {label} outside its {self._strategy} "
            f"transaction ({written}); {left}; {JOIN_THE_TEST}"
        )


_PENDING = pytest.StashKey[EscapeWatch]()


def settle_escapes(config: pytest.Config) -> str | None:
    """The escapes of the last watched test, heard now: before the next test, or at the end
    of the run. The line to fail with if they could not be checked."""
    pending = config.stash.get(_PENDING, None)
    if pending is None:
        return None
    del config.stash[_PENDING]
    return pending.settle_asked()


def _failed(namespace: WorkerNamespace, error: Exception, failed: str) -> str:
    if isinstance(error, UowError):
        return f"pytest-uow {failed}: {error}"
    assert isinstance(error, SQLAlchemyError)
    return namespace.explain(error, failed)


JOIN_THE_TEST = (
    "let that connection join the test (an engine on uow_database_url, the uow fixtures, "
    "uow_sessionmakers), or give the test @pytest.mark.uow(strategy='truncate'), whose reset "
    "undoes what every connection commits"
)


def _leak_line(
    namespace: WorkerNamespace, test: str, check_leaks: Sourced[bool], strategy: str | None
) -> str | None:
    """The one line reporting the rows ``test`` left behind, if any; rows left in the worker
    namespace are removed, so that the tests after it start from the baseline. ``strategy``
    is the test's, or None for a test with no isolation of its own."""
    baseline = namespace.baseline
    try:
        leaks = baseline.leak_detector.find()
        if any(leak.in_worker_namespace for leak in leaks):
            baseline.empty()
    except SQLAlchemyError as error:
        return namespace.explain(error, f"could not check {test} for leaks")
    if not leaks:
        return None
    line = (
        f"pytest-uow found rows that {test} left behind (uow_check_leaks, {check_leaks.source}): "
        + leak_report(leaks, namespace.label, strategy)
    )
    return line if strategy else f"{line}; it {UNISOLATED}: {GIVE_ISOLATION}"


class TestLife:
    """One isolated test: ``start`` before it, ``finish`` after all its own fixtures."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, state: RunState, item: pytest.Item, marker: pytest.Mark | None) -> None:
        self._state = state
        self._config = item.config
        self._test = item.nodeid
        self._strategy = STRATEGIES[_strategy_name(item, marker, state)]
        self._check_leaks = state.settings.check_leaks
        self._namespace = open_database(state)
        self._baseline = self._namespace.baseline
        self._isolation: AbstractContextManager[Binding] | None = None
        self._rebinding: AbstractContextManager[None] | None = None
        self._router = self._namespace.router
        # An application's async engine may join the test where engines are routed.
        self._uses_async = (
            state.settings.has_async_factories
            or not ASYNC_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
            or state.settings.async_driver is not None
        )
        self._joined = False
        self._aio: AsyncTestSide | None = None
        self._binding: Binding | None = None
        self._escapes: EscapeWatch | None = None

    def start(self) -> None:
        """The test's isolation, and the application's factories re-bound to it; the running
        test's binding from now on."""
        try:
            if not self._strategy.undoes_every_connection:
                self._escapes = EscapeWatch(self._state, self._test, self._strategy.name)
                self._escapes.start()
            if self._check_leaks.value:
                self._baseline.leak_detector.start()
            self._isolation = self._strategy.isolate(self._baseline)
            binding = self._isolation.__enter__()
            if self._uses_async:
                self._aio = AsyncTestSide(
                    self._namespace.aio, binding.commits_are_real, isolation_level_of
                )
                binding = dataclasses.replace(binding, aio=self._aio)
            CURRENT.isolate(binding)
            if not binding.commits_are_real:
                self._router.join(binding.connection)
                self._joined = True
            scoped_data(self._config, self._state).isolated(binding)
            if self._state.settings.adapters:
                self._rebinding = rebound(self._state.settings.adapters, binding)
                self._rebinding.__enter__()
            self._binding = binding
            return
        except SQLAlchemyError as error:
            message = self._namespace.explain(
                error, f"could not isolate {self._test} ({self._strategy.name})"
            )
        except UowError as error:
            message = f"pytest-uow could not isolate {self._test}: {error}"
        self._exit_quietly()
        _fail(message)

    def _exit_quietly(self) -> None:
        """After a failed start: undo what was entered; the start's error is the one shown."""
        self._leave()
        for context in (self._rebinding, self._isolation):
            if context is not None:
                try:
                    context.__exit__(None, None, None)
                except (SQLAlchemyError, UowError):
                    self._baseline.may_hold_rows()

    def finish(self) -> None:
        """Reset, then check for escapes and leaks; fail the test in one line if anything went
        wrong."""
        started = time.perf_counter()
        on_loop_shutdown = 0.0  # what an async test's loop released as it shut down
        message = None
        try:
            if self._rebinding is not None:
                self._rebinding.__exit__(None, None, None)
            self._leave()
            if self._aio is not None:
                on_loop_shutdown = self._aio.end()
            assert self._isolation is not None
            if self._escapes is not None:
                self._escapes.before_reset()
            self._isolation.__exit__(None, None, None)
        except (SQLAlchemyError, UowError) as error:
            self._baseline.may_hold_rows()
            message = self._reset_failure(error)
        else:
            self._state.record_reset(
                self._strategy.name, time.perf_counter() - started + on_loop_shutdown
            )
            if self._escapes is not None:
                message = self._escapes.end(self._config)
        self._warn_about_ended_backends()
        if message is None and self._binding is not None and self._binding.refusals:
            message = f"pytest-uow: {self._test}: {self._binding.refusals[0]}"
        if message is None and self._check_leaks.value:
            message = _leak_line(
                self._namespace, self._test, self._check_leaks, self._strategy.name
            )
        if message is not None:
            _fail(message)

    @property
    def rebuilds(self) -> bool:
        """Whether its reset rebuilds the namespace (``recreate``)."""
        return self._strategy.rebuilds_namespace

    def where_the_data_was(self, keep: bool) -> list[str]:
        """For the test's failure report, while its isolation is still open; with ``keep``
        (``--uow-keep-failed``), its rows kept in a namespace of their own."""
        if self._binding is None:
            return []
        connection = self._binding.connection
        lines = self._namespace.where_the_data_was(connection, self._strategy.name)
        scoped = scoped_data(self._config, self._state).report_line()
        if scoped is not None:
            lines.append(scoped)
        if keep:
            lines.append(self._namespace.keep_failed(connection))
        return lines

    def _leave(self) -> None:
        """The application's engines no longer join the test's transaction."""
        if self._joined:
            self._joined = False
            self._router.leave()

    def _reset_failure(self, error: Exception) -> str:
        failed = (
            f"could not reset the {self._namespace.noun} after {self._test} ({self._strategy.name})"
        )
        if isinstance(error, UowError):
            return f"pytest-uow {failed}: {error}"
        assert isinstance(error, SQLAlchemyError)
        message = self._namespace.explain(error, failed)
        if is_lock_timeout(error):
            message += (
                "; a connection, session or thread the test opened still holds a lock on it: "
                "close it in the test or its fixtures"
            )
        return message

    def _warn_about_ended_backends(self) -> None:
        backends = self._baseline.take_ended()
        if backends:
            # A database that recreate replaces ends its idle connections too: those were only
            # connected to it.
            idle = sum(backend.state == "idle" for backend in backends)
            held = {0: "holding locks on", len(backends): "still connected to"}.get(
                idle, "holding locks on, or still connected to,"
            )
            warnings.warn(
                UowWarning(
                    f"pytest-uow terminated {len(backends)} connection(s) of this worker {held} "
                    f"{self._namespace.label}, so that the reset after {self._test} "
                    f"could run ({describe_backends(backends)}): close connections, sessions and "
                    "threads in the tests that left them, or their fixtures"
                ),
                stacklevel=1,
            )


_LIFE = pytest.StashKey[TestLife]()


def where_the_data_was(item: pytest.Item) -> list[str]:
    """For a failed test that used the database (it has an isolation of its own): where its
    data was, read before its reset."""
    life = item.stash.get(_LIFE, None)
    keep = item.config.stash[STATE].settings.keep_failed.value
    return life.where_the_data_was(keep) if life is not None else []


_WATCH = pytest.StashKey[UnaskedTest]()
