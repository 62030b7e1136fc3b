"""``uow_seed``: another source's tables, then the application's reference rows."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import threading
import typing
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from pytest_uow.diagnosis import cause_line
from pytest_uow.errors import SeedError
from pytest_uow.loading import load_object
from pytest_uow.routing import lending
from pytest_uow.savepoints import JOIN_OPTIONS
from pytest_uow.sources.base import SchemaSource


class SeededSource:
    """Another source's tables, then the rows of ``uow_seed``: reference data every test
    starts with."""

    def __init__(
        self,
        tables: SchemaSource,
        seed: Seed,
        spec: str,
        where: str,
        code: Callable[..., object] | None = None,
    ) -> None:
        """``seed`` is called with the build's connection; ``code`` is the application's own
        callable behind it (whose module identifies the build)."""
        self._tables = tables
        self._seed = seed
        self._code = code or seed
        self._spec = spec
        self.description = f"{tables.description} seeded by uow_seed ({spec}, {where})"

    def build(self, connection: Connection) -> None:
        self._tables.build(connection)
        self._run_seed(connection)

    def ddl(self, dialect: Dialect) -> str | None:
        return self._tables.ddl(dialect)

    def fill(self, connection: Connection) -> None:
        self._tables.fill(connection)
        self._run_seed(connection)

    def _run_seed(self, connection: Connection) -> None:
        try:
            self._seed(connection)
        except Exception as error:
            raise SeedError(f"uow_seed {self._spec} raised {cause_line(error)}") from error

    def identity(self, dialect: Dialect) -> str:
        """The tables' identity and the seed's code (its whole module: it may call helpers)."""
        module = inspect.getmodule(self._code)
        try:
            code = inspect.getsource(module) if module is not None else self._spec
        except (OSError, TypeError):
            code = self._spec
        combined = f"{self._tables.identity(dialect)}\n{self._spec}\n{code}"
        return hashlib.sha256(combined.encode()).hexdigest()

    def tables_naming_a_schema(self) -> list[str]:
        return self._tables.tables_naming_a_schema()

    def discard_cache(self) -> None:
        self._tables.discard_cache()

    def notes(self) -> list[str]:
        return self._tables.notes()


Seed = Callable[[Connection], object]  # a seed as the build calls it


def load_seed(spec: str) -> tuple[Seed, Callable[..., object], str]:
    """The callable ``uow_seed`` names, adapted to what its signature asks for (see
    ``seed_call``), the callable itself, and what it asks for; ValueError says what is
    wrong with it."""
    target = load_object(spec)
    if not callable(target):
        raise ValueError(
            f"is a {type(target).__name__}; expected a callable taking a Connection, a Session "
            "or an AsyncSession, or nothing"
        )
    call, asks_for = seed_call(target)
    return call, target, asks_for


def seed_call(seed: Callable[..., object]) -> tuple[Seed, str]:
    """How the build calls ``seed``, with the build's connection (and its transaction):

    - a parameter annotated ``Session`` (any subclass: SQLModel's gives ``session.exec``), or an
      ``AsyncSession`` of an async callable: a session of that class joined to the connection,
      committed after the seed (its ``commit()`` releases a savepoint);
    - no parameter: the seed uses the application's own engines, which share the connection
      for the call (``routing.lending``);
    - otherwise the ``Connection`` itself.
    """
    parameters = [
        parameter
        for parameter in inspect.signature(seed).parameters.values()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind
        in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    is_async = inspect.iscoroutinefunction(seed)
    if len(parameters) > 1:
        raise ValueError(
            f"takes {len(parameters)} arguments; expected one (a Connection, a Session or an "
            "AsyncSession) or none"
        )
    if not parameters:
        return _with_the_apps_engines(seed, is_async), "nothing"
    annotation = _annotation(seed, parameters[0])
    if is_async:
        if isinstance(annotation, type) and issubclass(annotation, AsyncConnection):
            raise ValueError(
                "is async and asks for an AsyncConnection; ask for an AsyncSession (or a "
                "Connection in a sync seed): the build's connection is a sync one"
            )
        session_class = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, AsyncSession)
            else AsyncSession
        )
        return _with_an_async_session(seed, session_class), session_class.__name__
    if isinstance(annotation, type) and issubclass(annotation, Session):
        return _with_a_session(seed, annotation), annotation.__name__
    return seed, "Connection"


def _annotation(seed: Callable[..., object], parameter: inspect.Parameter) -> object:
    """The parameter's annotation, resolved where it is a string (``from __future__ import
    annotations``); unresolvable, it asks for nothing in particular."""
    try:
        hints = typing.get_type_hints(seed)
    except Exception:  # a name the module imports only for type checkers
        hints = {}
    return hints.get(parameter.name, parameter.annotation)


def _with_a_session(seed: Callable[..., object], session_class: type[Session]) -> Seed:
    def call(connection: Connection) -> None:
        session = session_class(bind=connection, **JOIN_OPTIONS)
        try:
            seed(session)
            session.commit()
        finally:
            session.close()

    return call


def _with_an_async_session(seed: Callable[..., object], session_class: type[AsyncSession]) -> Seed:
    """The session's sync half is bound to the build's sync connection: every statement runs in
    SQLAlchemy's greenlet without awaiting anything."""

    def call(connection: Connection) -> None:
        async def run() -> None:
            session = session_class(**JOIN_OPTIONS)
            session.sync_session.bind = connection
            try:
                await typing.cast(Awaitable[object], seed(session))
                await session.commit()
            finally:
                await session.close()

        _run_to_completion(run)

    return call


def _with_the_apps_engines(seed: Callable[..., object], is_async: bool) -> Seed:
    def call(connection: Connection) -> None:
        with lending(connection):
            if is_async:
                _run_to_completion(lambda: typing.cast(Awaitable[object], seed()))
            else:
                seed()

    return call


def _run_to_completion(make: Callable[[], Awaitable[object]]) -> None:
    """Run a coroutine on a loop of its own: in this thread, or, where this thread already runs
    a loop (the namespace opened inside an async test), in another."""

    async def main() -> None:
        await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(main())
        return
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # handed to the caller's thread
            errors.append(error)

    thread = threading.Thread(target=in_thread, name="pytest-uow seed")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
