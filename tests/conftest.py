"""Helpers for driving pytest-uow the way users do: pytester subprocess runs against a real
PostgreSQL, with what they leave behind checked from outside through a plain connection.

Inner runs use ``UOW_DATABASE_URL`` when it is set (as in CI's second pass); otherwise this
suite starts one server of its own for them, so that what an inner run leaves behind can still
be inspected after it ends. Tests of the throwaway server itself unset the URL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import NullPool, create_engine, text
from sqlalchemy.engine import Engine

from pytest_uow.config import parse_url
from pytest_uow.server import RunServer

pytest_plugins = ["pytester"]

# The real cache, not pytester's temporary HOME: inner runs then copy a cached initdb result.
CACHE_HOME = os.environ.get("XDGCACHE_HOME") or str(Path.home() / ".cache")


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The server the inner runs use: UOW_DATABASE_URL, or one started for this suite."""
    configured = os.environ.get("UOW_DATABASE_URL")
    if configured:
        yield parse_url(configured).render_as_string(hide_password=False)
        return
    server = RunServer(f"suite{secrets.token_hex(4)}", os.getpid(), None)
    try:
        yield server.url().render_as_string(hide_password=False)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def outside(server_url: str) -> Iterator[Engine]:
    """A plain engine on the inner runs' server, independent of the plugin."""
    engine = create_engine(server_url, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def prefix() -> str:
    """A schema prefix of this test's own, so concurrent tests never see each other's schemas."""
    return f"t{secrets.token_hex(4)}"


def schemas_named(engine: Engine, prefix: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p ORDER BY 1"),
                {"p": f"{prefix}\\_%"},
            ).scalars()
        )


@pytest.fixture
def own_database(
    server_url: str, outside: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """A database of this test's own, which the inner runs use. Needed where concurrent tests
    would interfere: every run reaps what it finds in its database (a concurrent test's run
    could reap, correctly, what this test expects to find), and other tests write to the
    shared database's ``public`` (which the leak detector would report)."""
    name = f"own_{secrets.token_hex(4)}"
    with outside.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = parse_url(server_url).set(database=name)
    monkeypatch.setenv("UOW_DATABASE_URL", url.render_as_string(hide_password=False))
    engine = create_engine(url, poolclass=NullPool)
    yield engine
    engine.dispose()
    with outside.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


@dataclass
class PublicGuard:
    """A table with rows in ``public``, and a fingerprint of everything ``public`` holds."""

    engine: Engine
    table: str

    def fingerprint(self) -> tuple[object, ...]:
        with self.engine.connect() as connection:
            # Other tests' guard tables come and go concurrently; everything else counts.
            tables = connection.execute(
                text(
                    "SELECT string_agg(c.relname || ':' || c.relkind::text, ',' "
                    "ORDER BY c.relname) "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' "
                    "AND (c.relname NOT LIKE 'guard%' OR c.relname LIKE :t)"
                ),
                {"t": f"{self.table}%"},
            ).scalar()
            rows = connection.execute(
                text(
                    f"SELECT md5(string_agg(g::text, ',' ORDER BY g.id)) FROM public.{self.table} g"
                )
            ).scalar()
            return tables, rows


@pytest.fixture
def public_guard(outside: Engine) -> Iterator[PublicGuard]:
    table = f"guard_{secrets.token_hex(4)}"
    with outside.begin() as connection:
        connection.execute(text(f"CREATE TABLE public.{table} (id int PRIMARY KEY, note text)"))
        connection.execute(
            text(f"INSERT INTO public.{table} SELECT i, 'row ' || i FROM generate_series(1, 50) i")
        )
    yield PublicGuard(outside, table)
    with outside.begin() as connection:
        connection.execute(text(f"DROP TABLE public.{table}"))


@pytest.fixture
def project(
    pytester: pytest.Pytester, server_url: str, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A user's project: a Cosmic-Python-style app (models, UoW with an import-time default
    factory, a Flask endpoint) whose pyproject points pytest-uow at it."""
    monkeypatch.setenv("UOW_DATABASE_URL", server_url)
    monkeypatch.setenv("XDGCACHE_HOME", CACHE_HOME)
    for name in (
        "UOW_METADATA",
        "UOW_STRATEGY",
        "UOW_ISOLATION",
        "UOW_KEEP",
        "UOW_SCHEMA_PREFIX",
        "UOW_SESSIONMAKERS",
        "UOW_PG_BINDIR",
        "PGOPTIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(app=APP)
    pytester.makepyprojecttoml(PROJECT_INI)
    return pytester


def project_ini(metadata: str = "app:metadata", sessionmakers: bool = True) -> str:
    """The user project's pyproject.toml: its tables, and its sessionmakers unless told not to
    (then a test that uses none of the plugin's fixtures does not need the database)."""
    ini = f'[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "{metadata}"\n'
    if sessionmakers:
        ini += 'uow_sessionmakers = ["app:DEFAULT_SESSION_FACTORY"]\n'
    return ini


PROJECT_INI = project_ini()


APP = '''
"""A small Cosmic-Python-style application: the shape that defeats other plugins."""
import os

from flask import Flask, jsonify, request
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, select
from sqlalchemy.orm import sessionmaker

metadata = MetaData()
batches = Table(
    "batches", metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(50), unique=True, nullable=False),
    Column("qty", Integer, nullable=False),
)

# Built at import time from the application's own configuration, as in production.
engine = create_engine(
    os.environ.get("APP_DATABASE_URL", "postgresql+psycopg2://app@127.0.0.1:1/app"),
    isolation_level=os.environ.get("APP_ISOLATION", "REPEATABLE READ"),
)
DEFAULT_SESSION_FACTORY = sessionmaker(bind=engine, expire_on_commit=False)


class SqlAlchemyUnitOfWork:
    def __init__(self, session_factory=DEFAULT_SESSION_FACTORY):
        self.session_factory = session_factory

    def __enter__(self):
        self.session = self.session_factory()
        return self

    def __exit__(self, *args):
        self.session.rollback()
        self.session.close()

    def commit(self):
        self.session.commit()

    def rollback(self):
        self.session.rollback()


def add_batch(reference, qty, uow):
    with uow:
        uow.session.execute(batches.insert().values(reference=reference, qty=qty))
        uow.commit()


def count_batches(uow):
    with uow:
        return uow.session.execute(select(func.count()).select_from(batches)).scalar_one()


def create_app():
    app = Flask(__name__)

    @app.post("/batches")
    def post_batch():
        body = request.get_json()
        add_batch(body["reference"], body["qty"], SqlAlchemyUnitOfWork())
        return jsonify(count=count_batches(SqlAlchemyUnitOfWork())), 201

    return app
'''
