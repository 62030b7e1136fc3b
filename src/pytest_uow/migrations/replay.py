"""What the first build of the migrations sent, kept to be replayed.

It is captured and kept in the user's cache, under a hash of ``alembic.ini``, ``env.py`` and
every migration script: later builds (other workers, later runs) replay it in one round trip and
run no migration code at all. A build that cannot be replayed, because a statement names the
namespace it was built in or the driver cannot render statements, is not captured: every build
then runs the migrations, and the run's summary says so.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from filelock import FileLock
from sqlalchemy import text
from sqlalchemy.engine import Connection

from pytest_uow.cache import cache_dir
from pytest_uow.migrations.runner import CREATED_OUTSIDE


class ReplayCache:
    """The captured build of one set of migration files, shared by every process of every run
    on this machine (they take turns on a file lock: the first migrates, the others replay)."""

    def __init__(self, identity: str) -> None:
        self._path = cache_dir() / "migrations" / f"{identity[:32]}.sql"

    @contextmanager
    def turn(self) -> Iterator[str | None]:
        """This process's turn; yields what is captured, if anything."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self._path.with_suffix(".lock"))):
            try:
                cached: str | None = self._path.read_text()
            except OSError:
                cached = None
            yield cached

    def store(self, script: str) -> None:
        with tempfile.NamedTemporaryFile(
            "w", dir=self._path.parent, delete=False, suffix=".tmp"
        ) as staging:
            staging.write(script)
        os.replace(staging.name, self._path)

    def discard(self) -> None:
        """``uow_rebuild``: the next build migrates afresh (and captures again)."""
        self._path.unlink(missing_ok=True)


def replayed_inside(connection: Connection, script: str) -> bool:
    """Replay ``script``; where it creates something outside the worker schema (it was
    captured in a database of its own, where a migration may create schemas), undo it: the
    migrations then run, and name the revision."""
    namespace = connection.execute(text("SELECT current_schema()")).scalar_one()
    with connection.begin_nested() as replay:
        connection.exec_driver_sql(script)
        if namespace != "public" and connection.execute(text(CREATED_OUTSIDE)).first():
            replay.rollback()
            return False
    return True


class Capture:
    """What one build sends, statement by statement, rendered by the driver for a replay."""

    def __init__(self, namespace: str, driver: str) -> None:
        self._namespace = namespace
        self._driver = driver
        self._sent: list[tuple[str | None, str]] = []  # (revision, statement)
        self._renderable = True

    def __call__(
        self, revision: str | None, cursor: Any, statement: str, parameters: Any, many: bool
    ) -> None:
        mogrify = getattr(cursor, "mogrify", None)
        if mogrify is None:
            self._renderable = False
            return
        batch = parameters if many and isinstance(parameters, (list, tuple)) else [parameters]
        for params in batch:
            rendered = mogrify(statement, params or None)
            self._sent.append(
                (revision, rendered.decode() if isinstance(rendered, bytes) else rendered)
            )

    @property
    def unreplayable(self) -> str | None:
        """Why the build cannot be replayed, if it cannot."""
        if not self._renderable:
            return f"the driver {self._driver} cannot render statements for a replay"
        for revision, statement in self._sent:
            if _names(statement, self._namespace):
                shown = _excerpt(statement.replace(self._namespace, "<namespace>"))
                return f"revision {revision} names the namespace it runs in ({shown})"
        return None

    def script(self) -> str:
        """The build as one script (the catalog lookups left out)."""
        kept = [statement for _, statement in self._sent if not _reads_the_catalog(statement)]
        return "".join(f"{statement.rstrip().rstrip(';')};\n" for statement in kept)


def _excerpt(statement: str, length: int = 80) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= length else flat[: length - 3] + "..."


def _names(statement: str, namespace: str) -> bool:
    """Whether a statement that changes something names the namespace it was built in."""
    head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    return head != "SELECT" and namespace in statement


def _reads_the_catalog(statement: str) -> bool:
    """Alembic's and SQLAlchemy's own lookups (does alembic_version exist?): nothing to
    replay."""
    return statement.lstrip().upper().startswith("SELECT") and "pg_catalog." in statement
