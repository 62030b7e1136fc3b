"""The strategy seam: what a strategy does, and the little it needs from the worker's database.

A strategy opens the test's isolation (``isolate``) and says what the test's sessions bind to;
leaving the context undoes the test's writes. It sees the worker's database only through
``ResetTarget``, so a new strategy is a new module and a registry line, nothing else.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import ClassVar, Protocol

from sqlalchemy.engine import Connection, Engine

from pytest_uow.binding import Binding


class ResetTarget(Protocol):
    """What a reset may ask of the worker's namespace. Its owner alone knows whether the
    namespace holds only its baseline; strategies tell it what they did."""

    @property
    def engine(self) -> Engine:
        """Every connection of it uses the worker's namespace."""

    def rolled_back(self) -> AbstractContextManager[Connection]:
        """A connection to the namespace inside the test's transaction, for one test at a
        time; what it wrote is undone on exit."""

    def engine_like(self, original_bind: object) -> Engine:
        """The worker engine at the isolation level an application's own engine asked for."""

    def sequences_may_have_advanced(self) -> None:
        """A test's writes were rolled back: no rows are left, but sequences moved on."""

    def ensure_baseline(self) -> None:
        """Before real commits: make sure the namespace holds only its baseline."""

    def empty(self) -> None:
        """Empty the tables that hold rows and restart used sequences."""

    def rebuild(self) -> None:
        """Drop the namespace and build it again."""


class ResetStrategy(Protocol):
    """Isolates one test; its writes are gone when the context exits."""

    name: ClassVar[str]
    # Whether the reset undoes what every connection committed, or only the test's own
    # connection's writes (then the others' are watched for: ``leftovers/escapes.py``).
    undoes_every_connection: ClassVar[bool]
    # Whether the reset drops the namespace and builds it again (what wider-scoped fixtures
    # committed goes with it: ``scoped.py`` finalizes them first).
    rebuilds_namespace: ClassVar[bool]

    def isolate(self, target: ResetTarget) -> AbstractContextManager[Binding]: ...
