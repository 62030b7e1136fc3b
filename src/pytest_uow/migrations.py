"""The tables as the application's Alembic migrations build them (``uow_alembic``).

The migration environment is handed the plugin's connection (``config.attributes["connection"]``,
Alembic's documented way), so the migrations land in the worker's namespace, inside the plugin's
transaction. They run revision by revision, so that a failure names its revision.

What the first build sends to the server is captured and kept in the user's cache, under a hash
of ``alembic.ini``, ``env.py`` and every migration script: later builds (other workers, later
runs) replay it in one round trip and run no migration code at all. A build that cannot be
replayed, because a statement names the namespace it was built in or the driver cannot render
statements, is not captured: every build then runs the migrations.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
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

    def __init__(self, ini: Path, spec: str, where: str) -> None:
        """Checks what can be checked without a database; ValueError says what is wrong."""
        try:
            from alembic.config import Config
            from alembic.script import ScriptDirectory
        except ImportError:
            raise ValueError("needs Alembic: pip install alembic") from None
        if not ini.is_file():
            raise ValueError(f"no such file: {ini}")
        self.description = f"uow_alembic ({spec}, {where})"
        self._ini = ini
        self._config_class = Config
        try:
            script = ScriptDirectory.from_config(self._config())
            heads = script.get_heads()
            revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
        except Exception as error:  # Alembic's own errors, in the user's files
            raise ValueError(f"{type(error).__name__}: {error}") from None
        if len(heads) > 1:
            raise ValueError(
                f"several heads ({', '.join(sorted(heads))}): merge them with "
                "'alembic merge heads' so that head is one revision"
            )
        env_py = Path(script.dir) / "env.py"
        if "attributes" not in env_py.read_text():
            raise ValueError(
                f"{env_py} does not use the connection pytest-uow hands it: in "
                "run_migrations_online(), use config.attributes.get('connection') when it is set "
                "(Alembic's cookbook: 'Sharing a Connection across one or more programmatic "
                "migration commands')"
            )
        self._revisions = revisions
        self._identity = _identity(ini, env_py, Path(script.dir))
        self._cache = cache_dir() / "migrations" / f"{self._identity[:32]}.sql"

    def _config(self) -> Any:
        return self._config_class(str(self._ini))

    def build(self, connection: Connection) -> None:
        """Replay the cache, or migrate and fill it. Workers of one run (and concurrent runs)
        take turns on a file lock, so the first migrates and the others replay."""
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self._cache.with_suffix(".lock"))):
            cached = self._cached()
            if cached is not None:
                connection.exec_driver_sql(cached)
                return
            captured = self._migrate(connection)
            if captured is not None:
                self._store(captured)

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

    def _migrate(self, connection: Connection) -> str | None:
        """Upgrade revision by revision; return what was sent, if it can be replayed."""
        from alembic import command

        namespace = connection.execute(text("SELECT current_schema()")).scalar_one()
        statements: list[str] = []
        replayable = True
        capturing = False

        def capture(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            nonlocal replayable
            if not capturing:
                return
            mogrify = getattr(cursor, "mogrify", None)
            if mogrify is None:
                replayable = False
                statements.append(statement)
                return
            batch = parameters if many and isinstance(parameters, (list, tuple)) else [parameters]
            for params in batch:
                rendered = mogrify(statement, params or None)
                statements.append(rendered.decode() if isinstance(rendered, bytes) else rendered)

        event.listen(connection, "before_cursor_execute", capture)
        try:
            for revision in self._revisions:
                before = len(statements)
                config = self._config()
                config.attributes["connection"] = connection
                capturing = True
                try:
                    command.upgrade(config, revision)
                except Exception as error:
                    raise MigrationError(
                        f"uow_alembic: revision {revision} failed: {cause_line(error)}"
                    ) from error
                finally:
                    capturing = False
                if len(statements) == before and revision == self._revisions[0]:
                    raise MigrationError(
                        "uow_alembic: env.py ran the migrations on a connection of its own, not "
                        "on the one pytest-uow handed it: use config.attributes.get('connection')"
                    )
                if namespace != "public":
                    outside = connection.execute(text(_CREATED_OUTSIDE)).scalars().all()
                    if outside:
                        raise MigrationError(
                            f"uow_alembic: revision {revision} created {', '.join(outside)} "
                            f"outside the worker schema {namespace}: leave the schema out of the "
                            "migration (or use UOW_ISOLATION=database)"
                        )
        finally:
            event.remove(connection, "before_cursor_execute", capture)
        if not replayable or any(_names(statement, namespace) for statement in statements):
            return None
        kept = [statement for statement in statements if not _reads_the_catalog(statement)]
        return "".join(f"{statement.rstrip().rstrip(';')};\n" for statement in kept)

    def ddl(self, dialect: Dialect) -> str | None:
        """What the last build sent, when it can be replayed."""
        return self._cached()

    def fill(self, connection: Connection) -> None:
        return None

    def identity(self, dialect: Dialect) -> str:
        return self._identity

    def tables_naming_a_schema(self) -> list[str]:
        return []


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
