"""``uow_alembic``: the tables as the application's Alembic migrations build them.

The migration environment is handed the plugin's connection (``config.attributes["connection"]``,
Alembic's documented way), so the migrations land in the worker's namespace, inside the plugin's
transaction (``runner.py`` runs them revision by revision). The first build is captured and later
ones replay it (``replay.py``). This module checks what can be checked without a database and
says what identifies the migrations.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import textwrap
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Dialect

from pytest_uow.migrations.replay import Capture, ReplayCache, replayed_inside
from pytest_uow.migrations.runner import MigrationRun

_FORMAT = "pytest-uow migrations 1"


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
        code = env_py.read_text()
        # The env.py of `alembic init -t async` builds an async engine from sqlalchemy.url.
        self._async_env = "async_engine_from_config" in code
        self._downgrades = _downgrades(walked) if len(heads) == 1 else []
        self.script_dir = Path(script.dir)
        self.unreplayable: str | None = None  # why this process's build was not captured
        self._script: str | None = None  # what this process's build sent, to replay
        self._identity = _identity(ini, env_py, Path(script.dir))
        self._cache = ReplayCache(self._identity)

    def _config(self, connection: Connection | None = None) -> Any:
        """The migration environment's configuration, handed the plugin's connection: as
        ``config.attributes["connection"]`` (Alembic's cookbook), and as ``sqlalchemy.url``
        for an ``env.py`` as ``alembic init`` generates it, whose own engine is then lent that
        same connection (``routing.lending``)."""
        config = self._config_class(str(self.ini))
        if connection is not None:
            config.attributes["connection"] = connection
            url = connection.engine.url.difference_update_query(["application_name"])
            if self._async_env:
                url = _async_driver(url)
            # The ini's values are interpolated: a socket path's %2F is written %%2F.
            rendered = url.render_as_string(hide_password=False).replace("%", "%%")
            config.set_main_option("sqlalchemy.url", rendered)
        return config

    @property
    def downgrade_steps(self) -> list[tuple[str, str]]:
        """``(revision, what downgrading it leaves)`` from head down, as far as the revisions
        have a ``downgrade()`` with something in it; none where the history branches."""
        return list(self._downgrades)

    def build(self, connection: Connection) -> None:
        """Replay the captured build, or migrate (and capture, where it can be replayed)."""
        with self._cache.turn() as cached:
            if cached is not None and replayed_inside(connection, cached):
                self._script = cached
                return
            namespace = connection.execute(text("SELECT current_schema()")).scalar_one()
            capture = Capture(namespace, connection.dialect.driver)
            self.upgrade(connection, capture=capture)
            self.unreplayable = capture.unreplayable
            if self.unreplayable is None:
                self._script = capture.script()
                self._cache.store(self._script)

    def discard_cache(self) -> None:
        """``uow_rebuild``: the next build migrates afresh (and captures again)."""
        self._cache.discard()

    def upgrade(self, connection: Connection, capture: Capture | None = None) -> None:
        """Upgrade ``connection``'s namespace to every head, from wherever it is. Each of these
        is a ``MigrationError`` naming the revision: a revision that fails, an ``env.py`` that
        migrates a connection of its own, and (in a worker schema) a revision that creates
        something outside it. ``capture`` sees each statement the migrations send."""
        MigrationRun(self._config(connection), connection, "heads", capture=capture).run()

    def downgrade(self, connection: Connection, target: str) -> None:
        """Downgrade to ``target``; a failure names the revision whose downgrade failed."""
        MigrationRun(self._config(connection), connection, target, downgrading=True).run()

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


def _async_driver(url: URL) -> URL:
    """The build's URL with an async driver the machine has, for an ``env.py`` that builds an
    async engine from it: that engine connects, the migrations run on the build's connection
    (``runner.py``). asyncpg takes no libpq options: its query goes."""
    if importlib.util.find_spec("asyncpg") is not None:
        return url.set(drivername="postgresql+asyncpg", query={})
    return url.set(drivername="postgresql+psycopg")


def several_heads(heads: list[str]) -> str:
    """The one line for a history with several heads."""
    return (
        f"several heads ({', '.join(heads)}): merge them with 'alembic merge heads' so that "
        "head is one revision"
    )


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
