"""Running the application's migrations revision by revision, on the plugin's connection, so
that a failure names its revision and a revision that strays is caught at once.

One migration environment runs the whole plan (one load of the scripts, where a command per
revision loads them all again: 40 revisions took 1.4 s instead of 0.4 s); its steps are watched
one by one: which revision runs, and what it sent on the connection.

A migration environment's ``fileConfig(config.config_file_name)`` reconfigures the process's
logging (and disables every logger the ini does not name); the logging of the test run is put back
as it was afterwards, so the application's loggers, ``caplog`` and ``--log-cli`` keep working.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from pytest_uow.compat import alembic_steps
from pytest_uow.diagnosis import cause_line
from pytest_uow.errors import SourceError
from pytest_uow.routing import lending

# Relations this transaction created outside the namespace it builds (schema mode).
CREATED_OUTSIDE = """
SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.xmin::text = mod(pg_current_xact_id()::text::bigint, 4294967296)::text
  AND n.nspname <> current_schema() AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1
"""

# What sees each statement the migrations send: (revision running or None, cursor, statement,
# parameters, executemany).
Capture = Callable[[str | None, Any, str, Any, bool], None]


class MigrationError(SourceError):
    """A migration failed, or landed outside the worker's namespace; one line naming it."""


class MigrationRun:
    """One run of the migrations to ``destination`` on ``connection``."""

    def __init__(
        self,
        config: Any,
        connection: Connection,
        destination: str,
        downgrading: bool = False,
        capture: Capture | None = None,
    ) -> None:
        from alembic.script import ScriptDirectory

        self._config = config
        self._script = ScriptDirectory.from_config(config)
        self._connection = connection
        self._destination = destination
        self._downgrading = downgrading
        self._capture = capture
        self._namespace = connection.execute(text("SELECT current_schema()")).scalar_one()
        self._dbapi = connection.connection.dbapi_connection
        self._running: str | None = None  # the revision running now
        self._sent = 0  # statements it sent on the connection so far
        self._listening = True  # off while a step is checked

    def run(self) -> None:
        """Run the plan; each failure is a ``MigrationError`` naming its revision (or
        ``env.py``)."""
        event.listen(self._connection, "before_cursor_execute", self._sent_one)
        event.listen(Engine, "before_cursor_execute", self._sent_by_env_py)
        try:
            with (
                logging_kept(),
                _output_kept(),
                lending(self._connection, every_engine=True),
                _served_environment(
                    self._connection,
                    self._config,
                    self._script,
                    fn=self._steps,
                    destination_rev=self._destination,
                ),
            ):
                self._script.run_env()
        except MigrationError:
            raise
        except Exception as error:
            what = "env.py" if self._running is None else f"revision {self._running}"
            if self._downgrading and self._running is not None:
                what = f"the downgrade of {what}"
            raise MigrationError(
                f"uow_alembic: {what} failed: {cause_line(error)}{_statement_of(error)}"
            ) from error
        finally:
            event.remove(Engine, "before_cursor_execute", self._sent_by_env_py)
            event.remove(self._connection, "before_cursor_execute", self._sent_one)

    def _sent_by_env_py(self, conn: Any, *args: Any) -> None:
        """A statement of an engine ``env.py`` built itself, which was lent the plugin's
        connection: it counts as sent on it."""
        if conn is not self._connection and conn.connection.dbapi_connection is self._dbapi:
            self._sent_one(conn, *args)

    def _sent_one(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if self._listening:
            self._sent += 1
            if self._capture is not None:
                self._capture(self._running, cursor, statement, parameters, many)

    def _steps(self, heads: Any, context: Any) -> Iterator[Any]:
        """Alembic's plan, step by step: the code after ``yield`` runs once the step's
        migration and its version stamp are done."""
        for step in alembic_steps(self._script, self._destination, heads, self._downgrading):
            self._running, self._sent = step.revision.revision, 0
            yield step
            self._listening = False
            try:
                self._check_step(self._running)
            finally:
                self._listening = True
        self._running = None

    def _check_step(self, revision: str) -> None:
        """After a revision: it ran on the connection (its version stamp at least), and, in a
        worker schema, created nothing outside it."""
        if self._sent == 0:
            raise MigrationError(
                "uow_alembic: env.py ran the migrations on a connection of its own, which "
                "pytest-uow could not route to the namespace it builds (another database, or "
                "an async driver): use config.attributes.get('connection') when it is set"
            )
        if self._namespace != "public":
            outside = self._connection.execute(text(CREATED_OUTSIDE)).scalars().all()
            if outside:
                raise MigrationError(
                    f"uow_alembic: revision {revision} created {', '.join(outside)} outside the "
                    f"worker schema {self._namespace}: leave the schema out of the migration (or "
                    "use UOW_ISOLATION=database)"
                )


def _served_environment(build: Connection, *args: Any, **kwargs: Any) -> Any:
    """Alembic's ``EnvironmentContext``, where a connection ``env.py`` configures that is not
    the build's is swapped for the build's: an async engine's (``alembic init -t async``:
    ``connection.run_sync(do_run_migrations)``), or an engine's of another driver than the
    build's. Those connect to the build's database meanwhile (``routing``) and send nothing.

    The swap is this instance's own ``configure``: ``alembic.context`` proxies its functions
    to the instance in use, and knows ``EnvironmentContext`` itself, not subclasses."""
    from alembic.runtime.environment import EnvironmentContext

    environment = EnvironmentContext(*args, **kwargs)
    configure = environment.configure
    build_dbapi = build.connection.dbapi_connection

    def served(connection: Any = None, *more: Any, **options: Any) -> None:
        if (
            isinstance(connection, Connection)
            and connection.connection.dbapi_connection is not build_dbapi
        ):
            connection = build
        configure(connection, *more, **options)

    environment.configure = served  # type: ignore[method-assign]
    return environment


def _statement_of(error: BaseException) -> str:
    """``, in <statement>`` for an error the server sent about a statement: which of a
    revision's statements failed, on the same line."""
    statement = getattr(error, "statement", None)
    if not isinstance(error, DBAPIError) or not statement:
        return ""
    flat = " ".join(str(statement).split())
    return f", in {flat if len(flat) <= 160 else flat[:157] + '...'}"


@contextmanager
def _output_kept() -> Iterator[None]:
    """What ``env.py`` prints, and what its logging (Alembic's ``INFO`` lines, through the
    handlers ``fileConfig`` makes on ``sys.stderr``) writes, is kept from the test run's
    output: the build says nothing at the default verbosity; failures are ``MigrationError``."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


@contextmanager
def logging_kept() -> Iterator[None]:
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
