"""Opening a namespace of the run on its server: the one sequence that the worker's namespace,
the scratch namespace of the migration checks and dropping kept namespaces share.

The server's URL, an engine on the database it names (where leases live, and databases are
created and dropped), the mode's namespace for the owner, and the URL whose every connection
uses that namespace; released in the reverse order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy.engine import URL, Connection, Engine

from pytest_uow.compat import NullPool, create_engine
from pytest_uow.isolation.base import Isolation, IsolationMode, identified, with_option
from pytest_uow.leftovers.naming import ConnectionNames
from pytest_uow.scope import Scope
from pytest_uow.server.address import ServerAddress
from pytest_uow.workers import Worker


class OpenedNamespace:
    """An owner's namespace on the run's server, not yet created: ``isolation`` creates,
    rebuilds, keeps and drops it through ``server``; ``url`` reaches it."""

    def __init__(self, owner: Worker, isolation: Isolation, server: Engine, url: URL) -> None:
        self.owner = owner
        self.isolation = isolation
        self.server = server
        self.url = url

    def release(self) -> None:
        """Give up the owner's claim on the namespace, and the server's engine."""
        try:
            self.isolation.release()
        finally:
            self.server.dispose()

    def __enter__(self) -> OpenedNamespace:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def open_namespace(
    address: ServerAddress,
    owner: Worker,
    mode: IsolationMode,
    prefix: str,
    rebuild: bool = False,
    pooled: bool = True,
    option: str | None = None,
) -> OpenedNamespace:
    """``owner``'s namespace in ``mode`` on the server at ``address`` (the throwaway server is
    started by the first process of the run that asks); ``option``, a libpq ``options`` item
    (``-clock_timeout=10000``), is set on every connection to it."""
    server_url = address.url()
    isolation = mode.create(owner, prefix, rebuild)
    pool: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    server = create_engine(identified(server_url, owner.application_name), **pool)
    url = isolation.select(server_url, owner.application_name)
    if option is not None:
        url = with_option(url, option)
    return OpenedNamespace(owner, isolation, server, url)


@dataclass(frozen=True)
class Scratch:
    """An empty namespace to build in: ``engine`` reaches it, ``scope`` says which schemas of
    its database it is, and ``building`` goes around each build on a connection of ``engine``
    (``Isolation.building``)."""

    engine: Engine
    scope: Scope
    building: Callable[[Connection], AbstractContextManager[None]]


@contextmanager
def scratch_namespace(
    address: ServerAddress, run_owner: Worker, mode: IsolationMode, prefix: str, purpose: str
) -> Iterator[Scratch]:
    """An empty namespace ``<prefix>_<run>_<purpose>`` for one-off work (the migration
    checks), marked and leased like a worker's, so that a run killed meanwhile leaves it to the
    reaper, and dropped when the work is done."""
    owner = Worker(run_owner.run_id, purpose, run_owner.controller_pid)
    with open_namespace(address, owner, mode, prefix, pooled=False) as opened:
        engine = create_engine(opened.url, poolclass=NullPool)
        try:
            opened.isolation.create_empty(opened.server, engine)
            yield Scratch(engine, opened.isolation.scope, opened.isolation.building)
        finally:
            engine.dispose()
            opened.isolation.drop(opened.server, ConnectionNames(owner.application_name))


def drop_kept(
    address: ServerAddress, run_owner: Worker, mode: IsolationMode, prefix: str
) -> list[str]:
    """``uow_drop_kept``: drop the namespaces earlier runs of ``prefix`` kept, before any worker
    opens its own; return their names."""
    with open_namespace(address, run_owner, mode, prefix, pooled=False) as opened:
        return opened.isolation.drop_kept(opened.server, None)
