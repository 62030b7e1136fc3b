"""The isolation seam: a namespace of the worker's own on the run's server.

An isolation mode names the worker's namespace, selects it for every connection through
connection options (never a ``SET`` inside a transaction, which a rollback would undo), exports
that selection to child processes, creates it marked as the worker's, rebuilds, keeps or drops it,
and reaps the namespaces of runs that died.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import URL, Connection, Engine

from pytest_uow.locks import Backend
from pytest_uow.sources import SchemaSource
from pytest_uow.workers import Worker


class Isolation(Protocol):
    """One worker's namespace."""

    noun: str  # how messages name it: "worker schema"
    name: str

    def select(self, server: URL, application_name: str) -> URL:
        """``server``'s URL with the options that make every connection use the namespace."""

    def environment(self) -> dict[str, str]:
        """Variables that make libpq connections of child processes use the namespace too."""

    def reap(self, engine: Engine) -> list[str]:
        """Drop the namespaces of runs that died; return their names."""

    def create(self, engine: Engine, build: Callable[[Connection], None]) -> None:
        """Create the namespace, marked as the worker's, and claim it; ``build`` creates the
        tables in the same transaction, on a connection that uses the namespace."""

    def rebuild(self, connection: Connection, source: SchemaSource) -> None:
        """Drop and create the namespace again, in ``connection``'s transaction."""

    def keep(self, engine: Engine) -> None:
        """Leave the namespace for the user to inspect: marked so, never reaped."""

    def drop(self, engine: Engine) -> list[Backend]:
        """Drop the namespace; return the worker's backends terminated for holding locks."""

    def release(self) -> None:
        """Give up the worker's claim on the namespace (the end of the worker, or a failure)."""


@dataclass(frozen=True)
class IsolationMode:
    """A value of ``uow_isolation``."""

    name: str
    create: Callable[[Worker, str], Isolation]  # (worker, prefix) -> its namespace
    # Why the mode cannot serve a source, as a usage error says it; None if it can.
    refusal: Callable[[SchemaSource], str | None]
