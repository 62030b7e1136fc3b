"""The isolation seam: a namespace of the worker's own on the run's server.

An isolation mode names the worker's namespace, selects it for every connection through
connection options (never a ``SET`` inside a transaction, which a rollback would undo), exports
that selection to child processes, creates it marked as the worker's, rebuilds, keeps or drops it,
and reaps the namespaces of runs that died.

Two engines reach the server: ``server``, on the database the server URL names (where the
worker's lease lives, and where databases are created and dropped), and ``engine``, whose every
connection uses the worker's namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import URL, Connection, Engine

from pytest_uow.leftovers.locks import Backend
from pytest_uow.leftovers.naming import ConnectionNames
from pytest_uow.scope import Scope
from pytest_uow.sources.base import SchemaSource
from pytest_uow.workers import Worker

CONNECT_TIMEOUT_SECONDS = "10"


def identified(server: URL, application_name: str) -> URL:
    """``server``'s URL with the worker's application name, by which its backends are known
    (``locks.py``), and a connect timeout unless the URL has one: an unreachable host fails,
    never hangs."""
    extra = {"application_name": application_name}
    if "connect_timeout" not in server.query:
        extra["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return server.update_query_dict(extra)


def with_option(url: URL, option: str) -> URL:
    """``url`` with one more libpq ``options`` item (``-csearch_path=...``) after those it
    has."""
    given = url.query.get("options") or ()
    options = " ".join([*([given] if isinstance(given, str) else given), option])
    return url.update_query_dict({"options": options})


@dataclass(frozen=True)
class Template:
    """The template database a worker database was cloned from, and how it came to be."""

    name: str
    built: bool  # by this worker; else reused, built earlier by this run or another
    seconds: float  # building it, or waiting for it


class Isolation(Protocol):
    """One worker's namespace."""

    noun: str  # how messages name it: "worker schema"
    name: str
    schema: str  # what ``uow_schema`` gives: the schema unqualified names land in
    search_path: str | None  # what every connection to it sets, where it sets one
    scope: Scope  # the worker's schemas, in the database its engine connects to
    template: Template | None  # what the namespace was cloned from, once created
    # Whether ``rebuild`` drops the database the worker engine connects to (then none of the
    # engine's connections may be open); else it rebuilds beside them.
    rebuild_replaces_database: bool

    def select(self, server: URL, application_name: str) -> URL:
        """``server``'s URL with the options that make every connection use the namespace."""

    def environment(self, url: URL) -> dict[str, str]:
        """Variables that make libpq connections of child processes use the namespace too;
        ``url`` is what ``select`` gave."""

    def reap(self, server: Engine) -> list[str]:
        """Drop the namespaces of runs that died; return their names."""

    def create(self, server: Engine, engine: Engine, source: SchemaSource) -> None:
        """Create the namespace, marked as the worker's, claim it, and have ``source`` build
        its tables."""

    def create_empty(self, server: Engine, engine: Engine) -> None:
        """Create the namespace, marked and claimed as ``create`` does, with nothing in it (a
        scratch namespace: no template involved)."""

    def building(self, connection: Connection) -> AbstractContextManager[None]:
        """Around work that builds in the namespace on ``connection`` outside ``create`` (the
        migration checks' upgrades and downgrades), what ``create`` does around its build."""

    def rebuild(
        self, server: Engine, engine: Engine, source: SchemaSource, names: ConnectionNames
    ) -> list[Backend]:
        """Drop the namespace and create it again as ``create`` left it; return the worker's
        backends ended on the way (``names`` knows them, and their tests)."""

    def create_kept(self, server: Engine, name: str, comment: str) -> URL:
        """A namespace ``name``, marked ``comment``, for what a failed test left; the URL
        whose connections land in it. A schema is empty; a database is a clone of the
        template, its tables holding the baseline's rows."""

    def keep(self, server: Engine) -> None:
        """Leave the namespace for the user to inspect: marked so, never reaped."""

    def drop_kept(self, server: Engine, worker: str | None) -> list[str]:
        """Drop the namespaces of this prefix that earlier runs kept (only those of the worker
        named ``worker``, if given); return their names. One in use is left alone."""

    def drop(self, server: Engine, names: ConnectionNames) -> list[Backend]:
        """Drop the namespace; return the worker's backends terminated on the way."""

    def release(self) -> None:
        """Give up the worker's claim on the namespace (the end of the worker, or a failure)."""


@dataclass(frozen=True)
class IsolationMode:
    """A value of ``uow_isolation``."""

    name: str
    noun: str  # what the summary calls its namespaces: "worker schema"
    # (worker, prefix, rebuild templates) -> the worker's namespace
    create: Callable[[Worker, str, bool], Isolation]
    # Why the mode cannot serve a source, as a usage error says it; None if it can.
    refusal: Callable[[SchemaSource], str | None]
    # The privilege the mode needs on the server, as the remedy for lacking it says it.
    privilege: str
    # Whether its namespaces are named by the source's identity (then worked out once a run).
    uses_source_identity: bool = False
