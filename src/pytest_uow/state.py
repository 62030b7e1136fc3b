"""What one pytest process knows about its run, kept in ``config.stash``."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pytest_uow.isolation.base import Template
from pytest_uow.namespace.worker import WorkerNamespace
from pytest_uow.server.address import ServerAddress
from pytest_uow.settings.resolve import Settings
from pytest_uow.workers import Worker, WorkerResults


@dataclass
class RunResults:
    """What the workers report at their end, gathered by the controller for the summary."""

    kept: list[str] = field(default_factory=list)
    reaped: list[str] = field(default_factory=list)
    # Kept by earlier runs: replaced by this run's (keep), or all of them (drop kept).
    dropped_kept: list[str] = field(default_factory=list)
    database_used: bool = False
    reset_seconds: dict[str, list[float]] = field(default_factory=dict)
    # Per worker that opened its namespace: seconds until it was ready.
    ready_seconds: list[float] = field(default_factory=list)
    # Per worker cloned from a template: which, and whether that worker built it.
    templates: list[Template] = field(default_factory=list)
    # What the schema source said about the workers' builds, each said once.
    notes: list[str] = field(default_factory=list)
    # Per process that used the plugin (a worker, or the one process): seconds loading it.
    load_seconds: list[float] = field(default_factory=list)
    # The objects named in uow_sessionmakers that a test of some process reached.
    reached: set[str] = field(default_factory=set)
    # How many tests began, whether any reached a worker namespace, and the other databases
    # tests connected to (``CURRENT``).
    tests_started: int = 0
    namespace_reached: bool = False
    elsewhere: set[str] = field(default_factory=set)
    # The drivers the application's routed engines connected with.
    drivers: set[str] = field(default_factory=set)

    def add(self, results: WorkerResults) -> None:
        self.kept.extend(results.get("kept", []))
        self.reaped.extend(results.get("reaped", []))
        self.dropped_kept.extend(results.get("dropped_kept", []))
        self.database_used |= bool(results.get("database_used"))
        self.reached.update(results.get("reached", []))
        self.tests_started += int(results.get("tests_started", 0))
        self.namespace_reached |= bool(results.get("namespace_reached"))
        self.elsewhere.update(results.get("elsewhere", []))
        self.drivers.update(results.get("drivers", []))
        if results.get("load_seconds") is not None:
            self.load_seconds.append(results["load_seconds"])
        if results.get("ready_seconds") is not None:
            self.ready_seconds.append(results["ready_seconds"])
        if results.get("template") is not None:
            self.templates.append(Template(**results["template"]))
        self.notes.extend(note for note in results.get("notes", []) if note not in self.notes)
        for strategy, seconds in results.get("reset_seconds", {}).items():
            self.reset_seconds.setdefault(strategy, []).extend(seconds)


@dataclass
class RunState:
    """The run as this process decided it once, in ``pytest_configure``: its settings, who this
    process is, the server, and the worker's namespace on it."""

    settings: Settings
    worker: Worker
    address: ServerAddress
    namespace: WorkerNamespace
    # This process's own reset timings; sent to the controller at the end.
    reset_seconds: dict[str, list[float]] = field(default_factory=dict)
    # The controller's view of the whole run.
    results: RunResults = field(default_factory=RunResults)

    def record_reset(self, strategy: str, seconds: float) -> None:
        self.reset_seconds.setdefault(strategy, []).append(seconds)


STATE = pytest.StashKey[RunState]()


def run_state(config: pytest.Config) -> RunState:
    return config.stash[STATE]
