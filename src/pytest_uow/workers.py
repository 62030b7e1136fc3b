"""Who this process is in the run, and both directions of the xdist hand-off.

The controller (or the lone process without xdist) makes up the run id; xdist hands it to each
worker through ``workerinput``, and each worker hands its results back through ``workeroutput``.
Identity never comes from ``PYTEST_XDIST_WORKER``, which leaks into pytest runs nested inside a
worker. Without xdist the one process is both: a worker named ``main`` that reports to itself.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

_RUN_ID = "uow_run_id"
_CONTROLLER_PID = "uow_controller_pid"
_SOURCE_IDENTITY = "uow_source_identity"
_RESULTS = "uow_results"
_INDEX = "uow_worker_index"

# What a worker reports at its end: plain, picklable values only.
WorkerResults = dict[str, Any]
Receiver = Callable[[WorkerResults], None]


@dataclass(frozen=True)
class Worker:
    """One process of a run that may talk to the database."""

    run_id: str
    name: str
    controller_pid: int
    # The schema source's identity, worked out once by the controller where the isolation
    # needs it (compiling 200 tables' DDL takes 100 ms, which each worker would pay again).
    source_identity: str | None = None
    # 0, 1, ... in the order the controller configured the workers (0 without xdist); a
    # restarted worker keeps its predecessor's. For a port or an address per worker.
    index: int = 0

    def namespace_name(self, prefix: str) -> str:
        """``<prefix>_<run>_<worker>``: unique per run and per worker, at most 63 bytes."""
        return f"{prefix}_{self.run_id}_{self.name}"

    @property
    def application_name(self) -> str:
        """How the plugin's own backends show up in ``pg_stat_activity``."""
        return f"pytest-uow {self.run_id} {self.name}"

    @property
    def is_controller(self) -> bool:
        """The controller of an xdist run, or the one process of a run without xdist."""
        return self.name == "main"


def identify(config: pytest.Config) -> Worker:
    """This process's identity; a process without ``workerinput`` is the run's controller."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None and _RUN_ID in workerinput:
        return Worker(
            workerinput[_RUN_ID],
            workerinput["workerid"],
            workerinput[_CONTROLLER_PID],
            workerinput.get(_SOURCE_IDENTITY),
            workerinput.get(_INDEX, 0),
        )
    return Worker(secrets.token_hex(4), "main", os.getpid())


def hand_back(
    config: pytest.Config, results: WorkerResults, receive: Callable[[WorkerResults], None]
) -> None:
    """A worker's results at its end: to the controller under xdist, else straight to
    ``receive`` (the controller's own handler, in this same process)."""
    workeroutput: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_RESULTS] = results
    else:
        receive(results)


class XdistHooks:
    """Registered in the controller only where pytest-xdist is installed: the run identity out
    to each worker, and each worker's results back to ``receive``. ``source_identity``, if
    set (by the plugin, where the isolation names namespaces by it), is called once, for the
    first worker."""

    def __init__(self, controller: Worker, receive: Receiver) -> None:
        self._controller = controller
        self._receive = receive
        self.source_identity: Callable[[], str] | None = None
        self._identity: str | None = None
        self._indexes: dict[str, int] = {}  # by xdist worker id

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_RUN_ID] = self._controller.run_id
        worker_id = node.gateway.id
        node.workerinput[_INDEX] = self._indexes.setdefault(worker_id, len(self._indexes))
        node.workerinput[_CONTROLLER_PID] = self._controller.controller_pid
        if self.source_identity is not None:
            if self._identity is None:
                self._identity = self.source_identity()
            node.workerinput[_SOURCE_IDENTITY] = self._identity

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        results = getattr(node, "workeroutput", {}).get(_RESULTS)
        if results is not None:
            self._receive(results)


WORKER = pytest.StashKey[Worker]()
XDIST_HOOKS = pytest.StashKey[XdistHooks]()
# Where the controller's plugin takes the workers' results, once it is loaded.
RECEIVER = pytest.StashKey[Receiver]()
# How long loading the plugin took in this process: importing it (SQLAlchemy with it) and
# resolving the settings.
LOAD_SECONDS = pytest.StashKey[float]()
