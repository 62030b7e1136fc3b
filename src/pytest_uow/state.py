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
    reaped_schemas: list[str] = field(default_factory=list)
    reset_seconds: dict[str, list[float]] = field(default_factory=dict)

    def record_reset(self, strategy: str, seconds: float) -> None:
        self.reset_seconds.setdefault(strategy, []).append(seconds)


STATE = pytest.StashKey[RunState]()


def run_state(config: pytest.Config) -> RunState:
    return config.stash[STATE]


def reset_summary(reset_seconds: dict[str, list[float]]) -> list[str]:
    """Per strategy: how many resets, and their median and 95th percentile in milliseconds."""
    lines = []
    for strategy, seconds in sorted(reset_seconds.items()):
        ordered = sorted(seconds)
        p50 = ordered[len(ordered) // 2] * 1000
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
        lines.append(
            f"uow: reset {strategy}: {len(ordered)} tests, p50 {p50:.2f} ms, p95 {p95:.2f} ms"
        )
    return lines
