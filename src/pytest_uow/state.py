"""What one pytest process knows about its run, kept in ``config.stash``."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pytest_uow.config import Settings
from pytest_uow.database import WorkerDatabase
from pytest_uow.server import RunServer
from pytest_uow.sessions import AnySessionmaker
from pytest_uow.workers import Worker


@dataclass
class RunState:
    settings: Settings
    worker: Worker
    server: RunServer | None
    database: WorkerDatabase
    sessionmakers: tuple[AnySessionmaker, ...]
    kept_schemas: list[str] = field(default_factory=list)


STATE = pytest.StashKey[RunState]()


def run_state(config: pytest.Config) -> RunState:
    return config.stash[STATE]
