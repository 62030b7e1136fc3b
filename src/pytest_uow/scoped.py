"""Data that lives as long as its fixture: what a fixture of class, module, package or session
scope writes is seen by every test in that scope, and goes when the fixture is finalized.

pytest sets such a fixture up during the first test that needs it, inside that test's
isolation, so without this its rows would go with that test. Around its set-up (the
``pytest_fixture_setup`` hook) the worker's namespace is told:

- under ``rollback``, a savepoint is opened on the kept connection below the test's own (a
  *level*, ``namespace/levels.py``); rows written there outlive the test;
- with real commits (``truncate``, ``recreate``, a connection of its own), what the set-up
  committed becomes a *layer* of the baseline that every reset returns to
  (``namespace/cleaning.py``).

A fixture that wrote nothing keeps neither. When the fixture is finalized (the
``pytest_fixture_post_finalizer`` hook) its level is rolled back, or its layer removed, once the
running test's own reset has run.

What cannot stay where it is is set up again, by pytest, the next time a test needs it, after
the plugin finalized it early: a wider-scoped fixture set up above a narrower one (its level
would go with the narrower one's), every level before a test with real commits (whose
connections cannot see a transaction's uncommitted rows), every layer before a ``recreate``
test's rebuild, and whatever went with a kept connection that had to be replaced.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_uow.binding import Binding
from pytest_uow.current import CURRENT
from pytest_uow.namespace.levels import Level
from pytest_uow.state import RunState

# The plugin's own wider-scoped fixtures write nothing.
_OWN_PREFIXES = ("uow_", "_uow")


@dataclass
class SetUp:
    """One wider-scoped fixture's set-up, while it runs."""

    fixturedef: Any  # pytest's FixtureDef
    request: Any  # its SubRequest
    level: Level | None = None
    # What the test's connections that cannot hold a level had begun before it (by driver).
    elsewhere: dict[str, int] = field(default_factory=dict)


@dataclass
class Held:
    """A fixture whose rows the namespace holds: in a level, a layer, or both."""

    fixturedef: Any
    request: Any
    level: Level | None
    layer: bool
    ended: bool = False

    @property
    def name(self) -> str:
        return str(self.fixturedef.argname)


class ScopedData:
    """The wider-scoped fixtures of this process whose rows the worker's namespace holds, in
    the order they were set up (the levels' order on the server)."""

    def __init__(self, state: RunState) -> None:
        self._state = state
        self._setting_up: list[SetUp] = []
        self._held: list[Held] = []

    def _serves(self, fixturedef: Any) -> bool:
        namespace = self._state.namespace
        return (
            fixturedef.scope != "function"
            and not str(fixturedef.argname).startswith(_OWN_PREFIXES)
            and namespace.is_open
            and not namespace.lost
        )

    @contextlib.contextmanager
    def around_set_up(self, fixturedef: Any, request: Any) -> Iterator[None]:
        """Around a fixture's set-up: a level before it, and after it the level kept (or let
        go) and a layer taken of what it committed."""
        if not self._serves(fixturedef):
            yield
            return
        self.settle()  # a parametrized fixture finalized just now, before it is set up again
        if CURRENT.binding is None and _the_projects(fixturedef, request.config):
            # A test that asked for no isolation gets it now: what the fixture writes through
            # a session that kept its connection from an earlier test would not connect.
            CURRENT.needs_isolation()
        set_up = SetUp(fixturedef, request)
        self._setting_up.append(set_up)
        if CURRENT.binding is not None:
            self._open(set_up, CURRENT.binding)
        failed = True
        try:
            yield
            failed = False
        finally:
            self._setting_up.remove(set_up)
            self._close(set_up, failed)

    def isolated(self, binding: Binding) -> None:
        """A test's isolation began during a set-up (an application engine connected in it):
        the set-ups under way get their levels now, before anything is written."""
        for set_up in self._setting_up:
            if set_up.level is None:
                self._open(set_up, binding)

    def _open(self, set_up: SetUp, binding: Binding) -> None:
        if not binding.commits_are_real:
            set_up.level = self._state.namespace.baseline.open_level()
            set_up.elsewhere = self._elsewhere(binding)

    def _elsewhere(self, binding: Binding) -> dict[str, int]:
        """Per driver, the transactions begun on the test's connections that hold no level:
        another driver's (an application engine of psycopg beside the plugin's psycopg2),
        and the async side's."""
        begun = dict(self._state.namespace.router.begun_elsewhere(binding.connection))
        if binding.aio is not None:
            for driver in binding.aio.drivers_used:
                begun.setdefault(f"{driver} (async)", 1)
        return begun

    def _refusal(self, set_up: SetUp) -> str | None:
        """The line a set-up fails with when it wrote where its rows cannot outlive the test."""
        binding = CURRENT.binding
        if binding is None or set_up.level is None:
            return None
        after = self._elsewhere(binding)
        drivers = sorted(d for d, n in after.items() if n > set_up.elsewhere.get(d, 0))
        if not drivers:
            return None
        fixture = set_up.fixturedef
        return (
            f"pytest-uow: the {fixture.scope}-scoped fixture {fixture.argname!r} used the "
            f"database through {', '.join(drivers)}, whose connection of the test keeps rows "
            "only as long as the test, under rollback: name that driver in uow_database_url "
            "(postgresql+psycopg://...), so that the plugin's connection is the one the "
            "fixture writes on, write through a synchronous session, or give the fixture "
            "function scope"
        )

    def _close(self, set_up: SetUp, failed: bool) -> None:
        baseline = self._state.namespace.baseline
        level = set_up.level
        refusal = None if failed else self._refusal(set_up)
        if failed or refusal is not None:
            if level is not None:
                baseline.levels.abandon_set_up(level)
            if refusal is not None:
                pytest.fail(refusal, pytrace=False)
            return
        kept = level if level is not None and baseline.close_set_up(level) else None
        layer = baseline.push_layer()
        if kept is not None or layer:
            self._held.append(Held(set_up.fixturedef, set_up.request, kept, layer))

    def finalized(self, fixturedef: Any) -> None:
        """A fixture was finalized: its rows go after the running test's reset (``settle``).
        Those set up after it go first: their levels sit on top of its own."""
        held = next((h for h in self._held if h.fixturedef is fixturedef and not h.ended), None)
        if held is None:
            return
        index = self._held.index(held)
        for above in reversed(self._held[index + 1 :]):
            if not above.ended:
                above.fixturedef.finish(above.request)
        held.ended = True

    def before_test(self, real_commits: bool) -> None:
        """Before a test, and before its fixtures: a kept connection that lost its levels, or
        a cleaner that lost its layers, means those fixtures are set up again; a test with real
        commits cannot see levels, so they are finalized and set up again as layers."""
        baseline = self._state.namespace.baseline
        if not baseline.levels_intact():
            self._finish(lambda held: held.level is not None)
        if baseline.layers_lost:
            self._finish(lambda held: held.layer)
        if real_commits:
            self._finish(lambda held: held.level is not None)
        self.settle()

    def before_rebuild(self) -> None:
        """A ``recreate`` test's reset rebuilds the namespace: every layer's fixture is
        finalized first, while its rows are still there."""
        self._finish(lambda held: held.layer)

    def _finish(self, which: Any) -> None:
        for held in list(self._held):
            if which(held) and not held.ended:
                held.fixturedef.finish(held.request)
                held.ended = True  # finalized, whatever pytest did with its cache

    def settle(self) -> None:
        """After a test's reset: the rows of the fixtures finalized meanwhile go."""
        ended = next((index for index, held in enumerate(self._held) if held.ended), None)
        if ended is None:
            return
        gone = self._held[ended:]
        del self._held[ended:]
        baseline = self._state.namespace.baseline
        levels = [held.level for held in gone if held.level is not None]
        if levels:
            baseline.end_levels(levels)
        for held in reversed(gone):
            if held.layer:
                baseline.pop_layer()

    def report_line(self) -> str | None:
        """For a failed test's report: the wider-scoped fixtures whose rows it saw."""
        held = [h for h in self._held if not h.ended]
        if not held:
            return None
        names = ", ".join(f"{h.name} ({h.fixturedef.scope})" for h in held)
        return f"rows of wider-scoped fixtures, seen by the test and kept for their scope: {names}"


def _the_projects(fixturedef: Any, config: pytest.Config) -> bool:
    """Whether the fixture is the project's own (its conftest files and test modules), not an
    installed plugin's (pytest-asyncio's event loop policy, say)."""
    try:
        path = Path(inspect.getfile(fixturedef.func)).resolve()
    except (TypeError, OSError):
        return False
    return config.rootpath in path.parents and "site-packages" not in path.parts


_SCOPED = pytest.StashKey[ScopedData]()


def scoped_data(config: pytest.Config, state: RunState) -> ScopedData:
    data = config.stash.get(_SCOPED, None)
    if data is None:
        data = config.stash[_SCOPED] = ScopedData(state)
    return data
