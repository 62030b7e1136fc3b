"""``uow_check_migrations`` as test items: ``uow::migrations::<check>``, each with its own pass,
fail or skip line, selectable with ``-k`` and failing the run like any test.

The checks run once per run, not once per worker: xdist may hand the items to different
workers, so the first process that runs one of them works out every outcome (in a scratch
namespace of the run) under a file lock, and leaves them in a file of the run for the others.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from sqlalchemy import MetaData
from sqlalchemy.exc import SQLAlchemyError

from pytest_uow.compat import skip_at_item_location
from pytest_uow.diagnosis import one_line
from pytest_uow.errors import UowError
from pytest_uow.migrations.alembic import AlembicSource
from pytest_uow.migrations.checks import CHECKS, Outcome, Scratch, check_migrations

NODE_ID = "uow::migrations"
MIGRATION_CHECKS = pytest.StashKey["OncePerRun"]()
_SCRATCH = "chk"  # the scratch namespace: <prefix>_<run>_chk


class _Problems(Exception):
    """A check's problems, one line each."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class OncePerRun:
    """The checks' outcomes, worked out by the first process of the run that asks."""

    def __init__(self, run_id: str, ini: Path, work_out: Callable[[], dict[str, Outcome]]) -> None:
        self.ini = ini  # where the items say they are
        self._path = Path(tempfile.gettempdir()) / f"pytest-uow-{run_id}-checks.json"
        self._work_out = work_out
        self._outcomes: dict[str, Outcome] | None = None

    def outcomes(self) -> dict[str, Outcome]:
        if self._outcomes is None:
            with FileLock(str(self._path.with_suffix(".lock"))):
                if self._path.exists():
                    stored = json.loads(self._path.read_text())
                    self._outcomes = {
                        name: Outcome(tuple(outcome["problems"]), outcome["skipped"])
                        for name, outcome in stored.items()
                    }
                else:
                    self._outcomes = self._worked_out()
                    staging = self._path.with_suffix(".tmp")
                    staging.write_text(
                        json.dumps({name: asdict(o) for name, o in self._outcomes.items()})
                    )
                    staging.replace(self._path)
        return self._outcomes

    def _worked_out(self) -> dict[str, Outcome]:
        """Every outcome; where the checks could not run at all, each check fails with why."""
        try:
            return self._work_out()
        except (UowError, SQLAlchemyError, OSError) as error:
            failed = Outcome((f"pytest-uow could not run the migration checks: {one_line(error)}",))
            return dict.fromkeys(CHECKS, failed)

    def remove(self) -> None:
        """The controller's last step: the run's files go."""
        for path in (self._path, self._path.with_suffix(".lock")):
            with contextlib.suppress(OSError):
                path.unlink()


def once_per_run(
    run_id: str,
    migrations: AlembicSource,
    models: MetaData | None,
    scratch: Callable[[str], AbstractContextManager[Scratch]],
) -> OncePerRun:
    """The checks of the run ``run_id``: ``uow_alembic``'s migrations, against ``uow_metadata``'s
    models, in the scratch namespace ``scratch`` opens for a purpose (``<prefix>_<run>_chk``)."""

    def work_out() -> dict[str, Outcome]:
        with scratch(_SCRATCH) as namespace:
            return check_migrations(migrations, models, namespace)

    return OncePerRun(run_id, migrations.ini, work_out)


class MigrationChecks(pytest.Collector):
    """``uow::migrations``: one item per check."""

    def __init__(self, *, checks: OncePerRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checks = checks

    def collect(self) -> list[pytest.Item]:
        return [MigrationCheck.from_parent(self, name=name) for name in CHECKS]


class MigrationCheck(pytest.Item):
    """One check: passes, fails with one line per problem, or is skipped saying why."""

    def runtest(self) -> None:
        assert isinstance(self.parent, MigrationChecks)
        outcome = self.parent.checks.outcomes()[self.name]
        if outcome.skipped is not None:
            skip_at_item_location(outcome.skipped)  # at alembic.ini, as a skip mark's reason
        if outcome.problems:
            raise _Problems(outcome.problems)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, _Problems):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.nodeid


def migration_check_items(session: pytest.Session, checks: OncePerRun) -> list[Any]:
    """The items, to run before the project's own tests."""
    collector = MigrationChecks.from_parent(
        session, name=NODE_ID, nodeid=NODE_ID, path=checks.ini, checks=checks
    )
    return list(collector.collect())
