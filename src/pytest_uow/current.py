"""The one running test of this process: set once when its life begins, cleared once when it
ends, and read by everything that needs it.

Its readers sit where no test object reaches: async sessions find their bind through it (on
the test's loop, or a live server's), connections opening during the test are named after it,
checkouts are noted against it, and the fixtures hand out its binding. One pytest process runs
one test at a time, so there is one ``CURRENT``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_uow.binding import AsyncSide, Binding

Listener = Callable[[str | None], None]


class CurrentTest:
    """The node id of the running test and, while it has an isolation of its own, its
    binding."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self) -> None:
        self.nodeid: str | None = None
        self.binding: Binding | None = None
        # For a test that asked for no isolation: gives it its isolation the moment it needs
        # one (an application engine connects during it, or a uow fixture is taken at run time).
        self.isolate_on_demand: Callable[[], None] | None = None
        self._listeners: list[Listener] = []
        # What the tests of this process reached, for the end of the run: how many began,
        # whether any reached the worker namespace, and the other databases they connected to.
        self.started = 0
        self.reached_namespace = False
        self.elsewhere: set[str] = set()

    @property
    def aio(self) -> AsyncSide | None:
        """The running test's async side, if it has one."""
        return self.binding.aio if self.binding is not None else None

    def start(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.started += 1
        self.binding = None
        self.isolate_on_demand = None
        for listener in self._listeners:
            listener(nodeid)

    def isolate(self, binding: Binding) -> None:
        """The running test's isolation is open: ``binding`` is what it works with."""
        self.binding = binding
        self.isolate_on_demand = None

    def needs_isolation(self) -> None:
        """A test that asked for no isolation needs one after all: it gets it now."""
        isolate, self.isolate_on_demand = self.isolate_on_demand, None
        if isolate is not None:
            isolate()

    def note_reached(self) -> None:
        """Something of the running test reached the worker namespace: a routed connection, a
        fixture of the plugin, a session of a re-bound factory, a write found after it."""
        if self.nodeid is not None:
            self.reached_namespace = True

    def note_elsewhere(self, where: str) -> None:
        """A connection of the running test went to another database (``where`` names it)."""
        if self.nodeid is not None:
            self.elsewhere.add(where)

    def clear(self) -> None:
        self.nodeid = None
        self.binding = None
        self.isolate_on_demand = None
        for listener in self._listeners:
            listener(None)

    def listen(self, listener: Listener) -> None:
        """``listener`` is told each test's node id as it starts (None as it ends): what must
        be written once per test, such as ``PGAPPNAME``."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def stop_listening(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)


CURRENT = CurrentTest()
