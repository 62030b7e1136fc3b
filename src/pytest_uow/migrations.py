"""The tables as the application's Alembic migrations build them (``uow_alembic``).

The migration environment is handed the plugin's connection (``config.attributes["connection"]``,
Alembic's documented way), so the migrations land in the worker's namespace, inside the plugin's
transaction. They run revision by revision, so that a failure names its revision.

What the first build sends to the server is captured and kept in the user's cache, under a hash
of ``alembic.ini``, ``env.py`` and every migration script: later builds (other workers, later
runs) replay it in one round trip and run no migration code at all. A build that cannot be
replayed, because a statement names the namespace it was built in or the driver cannot render
statements, is not captured: every build then runs the migrations, and the run's summary says so.

A migration environment's ``fileConfig(config.config_file_name)`` reconfigures the process's
logging (and disables every logger the ini does not name); the logging of the test run is put back
as it was after each revision, so the application's loggers, ``caplog`` and ``--log-cli`` keep
working.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import logging
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Dialect

from pytest_uow.cache import cache_dir
from pytest_uow.diagnosis import cause_line
from pytest_uow.errors import SourceError

_FORMAT = "pytest-uow migrations 1"

# Relations this transaction created outside the namespace it builds (schema mode).
_CREATED_OUTSIDE = """
SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.xmin::text = mod(pg_current_xact_id()::text::bigint, 4294967296)::text
  AND n.nspname <> current_schema() AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1
"""


class MigrationError(SourceError):
    """A migration failed, or landed outside the worker's namespace; one line naming it."""


class AlembicSource:
    """Upgrade to head on the plugin's connection, or replay what an earlier upgrade sent."""

    def __init__(
        self, ini: Path, spec: str, where: str, several_heads_allowed: bool = False
    ) -> None:
        """Checks what can be checked without a database; ValueError says what is wrong.
        ``several_heads_allowed``: the migration checks report several heads as a failed
        check (the builds upgrade to every head); else they are refused here."""
        try:
            from alembic.config import Config
            from alembic.script import ScriptDirectory
        except ImportError:
            raise ValueError("needs Alembic: pip install alembic") from None
        if not ini.is_file():
            raise ValueError(f"no such file: {ini}")
        self.description = f"uow_alembic ({spec}, {where})"
        self.ini = ini
        self._config_class = Config
        try:
            script = ScriptDirectory.from_config(self._config())
            heads = script.get_heads()
            walked = list(script.walk_revisions())
        except Exception as error:  # Alembic's own errors, in the user's files
            raise ValueError(f"{type(error).__name__}: {error}") from None
        self.heads = sorted(heads)
        if len(heads) > 1 and not several_heads_allowed:
            raise ValueError(several_heads(self.heads))
        env_py = Path(script.dir) / "env.py"
        if "attributes" not in env_py.read_text():
            raise ValueError(
                f"{env_py} does not use the connection pytest-uow hands it: in "
                "run_migrations_online(), use config.attributes.get('connection') when it is set "
                "(Alembic's cookbook: 'Sharing a Connection across one or more programmatic "
                "migration commands')"
            )
        self._downgrades = _downgrades(walked) if len(heads) == 1 else []
        self.script_dir = Path(script.dir)
        self.unreplayable: str | None = None  # why this process's build was not captured
        self._script: str | None = None  # what this process's build sent, to replay
        self._identity = _identity(ini, env_py, Path(script.dir))
        self._cache = cache_dir() / "migrations" / f"{self._identity[:32]}.sql"

    def _config(self, connection: Connection | None = None) -> Any:
        config = self._config_class(str(self.ini))
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    @property
    def downgrade_steps(self) -> list[tuple[str, str]]:
        """``(revision, what downgrading it leaves)`` from head down, as far as the revisions
        have a ``downgrade()`` with something in it; none where the history branches."""
        return list(self._downgrades)

    def build(self, connection: Connection) -> None:
        """Replay the cache, or migrate and fill it. Workers of one run (and concurrent runs)
        take turns on a file lock, so the first migrates and the others replay."""
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self._cache.with_suffix(".lock"))):
            cached = self._cached()
            if cached is not None and self._replayed_inside(connection, cached):
                self._script = cached
                return
            self._script = self._migrate(connection)
            if self._script is not None:
                self._store(self._script)

    def _replayed_inside(self, connection: Connection, script: str) -> bool:
        """Replay ``script``; where it creates something outside the worker schema (it was
        captured in a database of its own, where a migration may create schemas), undo it:
        the migrations then run, and name the revision."""
        namespace = connection.execute(text("SELECT current_schema()")).scalar_one()
        with connection.begin_nested() as replay:
            connection.exec_driver_sql(script)
            if namespace != "public" and connection.execute(text(_CREATED_OUTSIDE)).first():
                replay.rollback()
                return False
        return True

    def discard_cache(self) -> None:
        """``uow_rebuild``: the next build migrates afresh (and captures again)."""
        self._cache.unlink(missing_ok=True)

    def _cached(self) -> str | None:
        try:
            return self._cache.read_text()
        except OSError:
            return None

    def _store(self, script: str) -> None:
        with tempfile.NamedTemporaryFile(
            "w", dir=self._cache.parent, delete=False, suffix=".tmp"
        ) as staging:
            staging.write(script)
        os.replace(staging.name, self._cache)

    def upgrade(
        self,
        connection: Connection,
        capture: Callable[[str | None, Any, str, Any, bool], None] | None = None,
    ) -> None:
        """Upgrade ``connection``'s namespace to every head, from wherever it is. Each of these
        is a ``MigrationError`` naming the revision: a revision that fails, an ``env.py`` that
        migrates a connection of its own, and (in a worker schema) a revision that creates
        something outside it. ``capture`` sees each statement the migrations send: ``(revision
        running or None, cursor, statement, parameters, executemany)``."""
        self._run(connection, "heads", capture=capture)

    def downgrade(self, connection: Connection, target: str) -> None:
        """Downgrade to ``target``; a failure names the revision whose downgrade failed."""
        self._run(connection, target, downgrading=True)

    def _run(
        self,
        connection: Connection,
        destination: str,
        downgrading: bool = False,
        capture: Callable[[str | None, Any, str, Any, bool], None] | None = None,
    ) -> None:
        """One migration environment (one load of the scripts, where a command per revision
        loads them all again: 40 revisions took 1.4 s instead of 0.4 s), its steps watched one by
        one: which revision runs, and what it sent on ``connection``."""
        from alembic.runtime.environment import EnvironmentContext
        from alembic.script import ScriptDirectory

        namespace = connection.execute(text("SELECT current_schema()")).scalar_one()
        config = self._config(connection)
        script = ScriptDirectory.from_config(config)
        running: str | None = None
        sent = 0
        listening = True

        def listen(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            nonlocal sent
            if listening:
                sent += 1
                if capture is not None:
                    capture(running, cursor, statement, parameters, many)

        def steps(heads: Any, context: Any) -> Iterator[Any]:
            """Alembic's plan, step by step: the code after ``yield`` runs once the step's
            migration and its version stamp are done."""
            nonlocal running, sent, listening
            if downgrading:
                planned = script._downgrade_revs(destination, heads)
            else:
                planned = script._upgrade_revs(destination, heads)
            for step in planned:
                running, sent = step.revision.revision, 0
                yield step
                listening = False
                try:
                    self._check_step(connection, running, sent, namespace)
                finally:
                    listening = True
            running = None

        event.listen(connection, "before_cursor_execute", listen)
        try:
            with (
                _logging_kept(),
                EnvironmentContext(config, script, fn=steps, destination_rev=destination),
            ):
                script.run_env()
        except MigrationError:
            raise
        except Exception as error:
            what = "env.py" if running is None else f"revision {running}"
            if downgrading and running is not None:
                what = f"the downgrade of {what}"
            raise MigrationError(f"uow_alembic: {what} failed: {cause_line(error)}") from error
        finally:
            event.remove(connection, "before_cursor_execute", listen)

    def _check_step(self, connection: Connection, revision: str, sent: int, namespace: str) -> None:
        """After a revision: it ran on ``connection`` (its version stamp at least), and, in a
        worker schema, created nothing outside it."""
        if sent == 0:
            raise MigrationError(
                "uow_alembic: env.py ran the migrations on a connection of its own, not on the "
                "one pytest-uow handed it: use config.attributes.get('connection')"
            )
        if namespace != "public":
            outside = connection.execute(text(_CREATED_OUTSIDE)).scalars().all()
            if outside:
                raise MigrationError(
                    f"uow_alembic: revision {revision} created {', '.join(outside)} outside the "
                    f"worker schema {namespace}: leave the schema out of the migration (or use "
                    "UOW_ISOLATION=database)"
                )

    def _migrate(self, connection: Connection) -> str | None:
        """Upgrade to head; return what was sent, if it can be replayed (else say why, in
        ``unreplayable``)."""
        namespace = connection.execute(text("SELECT current_schema()")).scalar_one()
        sent: list[tuple[str | None, str]] = []
        renderable = True

        def capture(
            revision: str | None, cursor: Any, statement: str, parameters: Any, many: bool
        ) -> None:
            nonlocal renderable
            mogrify = getattr(cursor, "mogrify", None)
            if mogrify is None:
                renderable = False
                return
            batch = parameters if many and isinstance(parameters, (list, tuple)) else [parameters]
            for params in batch:
                rendered = mogrify(statement, params or None)
                text_ = rendered.decode() if isinstance(rendered, bytes) else rendered
                sent.append((revision, text_))

        self.upgrade(connection, capture=capture)
        naming = [(revision, sql) for revision, sql in sent if _names(sql, namespace)]
        if not renderable:
            self.unreplayable = (
                f"the driver {connection.dialect.driver} cannot render statements for a replay"
            )
        elif naming:
            revision, statement = naming[0]
            self.unreplayable = (
                f"revision {revision} names the namespace it runs in "
                f"({_excerpt(statement.replace(namespace, '<namespace>'))})"
            )
        if self.unreplayable is not None:
            return None
        kept = [statement for _, statement in sent if not _reads_the_catalog(statement)]
        return "".join(f"{statement.rstrip().rstrip(';')};\n" for statement in kept)

    def ddl(self, dialect: Dialect) -> str | None:
        """What this process's build sent or replayed, when it can be replayed."""
        return self._script

    def fill(self, connection: Connection) -> None:
        return None

    def identity(self, dialect: Dialect) -> str:
        return self._identity

    def tables_naming_a_schema(self) -> list[str]:
        return []

    def notes(self) -> list[str]:
        if self.unreplayable is None:
            return []
        return [
            "uow_alembic: the migrations ran for every worker namespace (and every recreate), "
            f"since their first run cannot be replayed: {self.unreplayable}"
        ]


def several_heads(heads: list[str]) -> str:
    """The one line for a history with several heads."""
    return (
        f"several heads ({', '.join(heads)}): merge them with 'alembic merge heads' so that "
        "head is one revision"
    )


@contextmanager
def _logging_kept() -> Iterator[None]:
    """Put the process's logging back as it was: handlers and levels of the root logger, and
    which loggers are disabled (``fileConfig`` disables every logger its file does not name)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = {
        name: (logger.disabled, logger.level, list(logger.handlers), logger.propagate)
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, logger in list(logging.Logger.manager.loggerDict.items()):
            if not isinstance(logger, logging.Logger):
                continue
            disabled, logger_level, logger_handlers, propagate = loggers.get(
                name, (False, logging.NOTSET, [], True)
            )
            logger.disabled, logger.propagate = disabled, propagate
            logger.setLevel(logger_level)
            logger.handlers[:] = logger_handlers


def _downgrades(walked: list[Any]) -> list[tuple[str, str]]:
    """From the head down (``walked`` is Alembic's order), the revisions whose ``downgrade()``
    does something, until the first that does not; none where a revision merges or branches."""
    if any(isinstance(script.down_revision, (tuple, list)) for script in walked):
        return []
    steps = []
    for script in walked:
        if not _does_something(getattr(script.module, "downgrade", None)):
            break
        steps.append((script.revision, script.down_revision or "base"))
    return steps


def _does_something(function: object) -> bool:
    """Whether a function's body is more than ``pass``, a docstring and comments (the body
    Alembic generates for a revision nobody wrote a downgrade for)."""
    if not callable(function):
        return False
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return True
    definition = tree.body[0]
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return True
    return any(
        not isinstance(node, ast.Pass)
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        for node in definition.body
    )


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


def _identity(ini: Path, env_py: Path, scripts: Path) -> str:
    """A hash of ``alembic.ini``, ``env.py`` and every script under the script directory, by
    their names relative to it (so a moved checkout keeps its cache)."""
    digest = hashlib.sha256(_FORMAT.encode())
    named = [("alembic.ini", ini), ("env.py", env_py)]
    named += [
        (str(path.relative_to(scripts)), path)
        for path in sorted(scripts.rglob("*.py"))
        if "__pycache__" not in path.parts
    ]
    for name, path in named:
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
