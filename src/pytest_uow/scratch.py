"""A namespace of the run's own for one-off work (the migration checks): created empty, marked
and leased like a worker's, so that a run killed meanwhile leaves it to the reaper, and dropped
when the work is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from pytest_uow.compat import NullPool, create_engine
from pytest_uow.config import Settings
from pytest_uow.isolation.base import identified
from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.naming import ConnectionNames
from pytest_uow.scope import Scope
from pytest_uow.server import RunServer
from pytest_uow.workers import Worker


@contextmanager
def scratch_namespace(
    settings: Settings, worker: Worker, server: RunServer | None, purpose: str
) -> Iterator[tuple[Engine, Scope]]:
    """An empty namespace ``<prefix>_<run>_<purpose>`` in the run's isolation mode, and which
    schemas of its database are the namespace."""
    server_url = settings.url.value
    if server_url is None:
        assert server is not None
        server_url = server.url()
    owner = Worker(worker.run_id, purpose, worker.controller_pid)
    isolation = ISOLATIONS[settings.isolation.value].create(
        owner, settings.schema_prefix.value, False
    )
    server_engine = create_engine(
        identified(server_url, owner.application_name), poolclass=NullPool
    )
    engine = create_engine(isolation.select(server_url, owner.application_name), poolclass=NullPool)
    try:
        isolation.create_empty(server_engine, engine)
        yield engine, isolation.scope
    finally:
        engine.dispose()
        try:
            isolation.drop(server_engine, ConnectionNames(owner.application_name))
        finally:
            isolation.release()
            server_engine.dispose()
