"""Who this process is in the run: the run's id, the worker's name, the controller's pid.

The controller (or the lone process without xdist) makes up the run id; xdist hands it to each
worker through ``workerinput``. Identity never comes from ``PYTEST_XDIST_WORKER``, which leaks
into pytest runs nested inside a worker.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

_RUN_ID = "uow_run_id"
_CONTROLLER_PID = "uow_controller_pid"


@dataclass(frozen=True)
class Worker:
    """One process of a run that may talk to the database."""

    run_id: str
    name: str
    controller_pid: int

    def schema_name(self, prefix: str) -> str:
        """``<prefix>_<run>_<worker>``: unique per run and per worker, at most 63 bytes."""
        return f"{prefix}_{self.run_id}_{self.name}"

    @property
    def application_name(self) -> str:
        """How the plugin's own backends show up in ``pg_stat_activity``."""
        return f"pytest-uow {self.run_id} {self.name}"


def identify(config: pytest.Config) -> Worker:
    """This process's identity; a process without ``workerinput`` is the run's controller."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None and _RUN_ID in workerinput:
        return Worker(workerinput[_RUN_ID], workerinput["workerid"], workerinput[_CONTROLLER_PID])
    return Worker(secrets.token_hex(4), "main", os.getpid())


class XdistHooks:
    """Registered only where pytest-xdist is installed: hands the run identity to workers."""

    def __init__(self, controller: Worker) -> None:
        self._controller = controller

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_RUN_ID] = self._controller.run_id
        node.workerinput[_CONTROLLER_PID] = self._controller.controller_pid
