"""Helpers for driving pytest-uow the way users do: pytester subprocess runs against a real
PostgreSQL, with what they leave behind checked from outside through a plain connection.

Inner runs use ``UOW_DATABASE_URL`` when it is set (as in CI's second pass); otherwise this
suite starts one server of its own for them, so that what an inner run leaves behind can still
be inspected after it ends. Tests of the throwaway server itself unset the URL.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from pytest_uow import ENVIRONMENT_VARIABLES, throwaway_server

pytest_plugins = ["pytester"]

# The code of the inner runs: copied into their projects (pytester.copy_example), never run here.
collect_ignore = ["inner"]

# The real cache, not pytester's temporary HOME: inner runs then copy a cached initdb result.
CACHE_HOME = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")


def psycopg2_url(url: str) -> str:
    """``url`` with the driver the plugin gives a URL that names none, spelled out."""
    parsed = make_url(url)
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


# The pytest plugins of this project's own environment: pytest-uow and the test extra's.
# pytest-randomly is not among them: where factory_boy, Faker and polyfactory are installed
# (the test extra has them) it imports all three to reseed them, 1.6 s a process here; the
# inner runs that shuffle their tests ask for it (``-p randomly``).
OWN_PLUGIN_DISTRIBUTIONS = {"pytest", "pytest-uow", "pytest-xdist"}
# Whatever else the machine has installed (hypothesis' plugin alone costs a second a process
# here) is kept out of the pytest runs the tests start, so they run as on a clean machine.
OTHER_PLUGINS = sorted(
    entry_point.name
    for entry_point in entry_points(group="pytest11")
    if entry_point.dist is None or entry_point.dist.name not in OWN_PLUGIN_DISTRIBUTIONS
)


THROWAWAY_FIXTURES = frozenset({"own_server", "throwaway_project"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests whose inner runs use a throwaway server of their own, whatever UOW_DATABASE_URL
    says, are marked ``throwaway``: they run the same in both of CI's passes, so the pass
    against the machine's service leaves them out (``-m "not throwaway"``)."""
    for item in items:
        if not THROWAWAY_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.throwaway)


@pytest.fixture(autouse=True)
def _inner_run_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of the pytest runs a test starts. This run uses the plugin on itself
    (``tests/test_sessions.py``), so its workers export ``PGOPTIONS`` and ``PGAPPNAME``: inner
    runs must not inherit them. And they load only this project's plugins."""
    monkeypatch.delenv("PGOPTIONS", raising=False)
    monkeypatch.delenv("PGAPPNAME", raising=False)
    blocked = " ".join(f"-p no:{name}" for name in OTHER_PLUGINS)
    given = os.environ.get("PYTEST_ADDOPTS", "")
    monkeypatch.setenv("PYTEST_ADDOPTS", f"{given} {blocked}".strip())


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The server the inner runs use: UOW_DATABASE_URL, or one started for this suite."""
    configured = os.environ.get("UOW_DATABASE_URL")
    if configured:
        yield psycopg2_url(configured)
        return
    with throwaway_server() as url:
        yield url


@pytest.fixture(scope="session")
def outside(server_url: str) -> Iterator[Engine]:
    """A plain engine on the inner runs' server, independent of the plugin: its connections
    name themselves as the plugin's own do, so that the outer run (which UOW_DATABASE_URL
    configures too) leaves them where they point instead of routing them to its worker schema."""
    engine = create_engine(
        server_url, poolclass=NullPool, connect_args={"application_name": "pytest-uow outside"}
    )
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
    url = make_url(server_url).set(database=name)
    monkeypatch.setenv("UOW_DATABASE_URL", url.render_as_string(hide_password=False))
    engine = create_engine(url, poolclass=NullPool)
    yield engine
    engine.dispose()
    with outside.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


@pytest.fixture
def own_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A throwaway server of this test's own, which its inner runs use: for a test that needs
    the server's whole list of databases to itself (every database-mode run reaps what it finds
    on its server, so a concurrent test's run could reap, correctly, what this one expects its
    own run to reap)."""
    with throwaway_server() as url:
        monkeypatch.setenv("UOW_DATABASE_URL", url)
        engine = create_engine(url, poolclass=NullPool)
        yield engine
        engine.dispose()


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


def databases_named(engine: Engine, prefix: str) -> dict[str, tuple[int, bool, bool, str]]:
    """``prefix``'s databases: name -> (oid, is a template, allows connections, comment)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT datname, oid::int, datistemplate, datallowconn, "
                "coalesce(shobj_description(oid, 'pg_database'), '') "
                "FROM pg_database WHERE datname LIKE :p ORDER BY oid"
            ),
            {"p": f"{prefix}\\_%"},
        ).all()
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def autocommit(engine: Engine, *statements: str) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for statement in statements:
            connection.execute(text(statement))


@pytest.fixture
def own_prefix(outside: Engine, prefix: str) -> Iterator[str]:
    """A prefix of this test's own; every database of that prefix (templates included) is
    dropped afterwards."""
    yield prefix
    for name, (_, template, _, _) in databases_named(outside, prefix).items():
        if template:
            autocommit(outside, f"ALTER DATABASE {name} WITH IS_TEMPLATE false")
        autocommit(outside, f"DROP DATABASE {name} WITH (FORCE)")


def start_lingering_run(
    project: pytest.Pytester, report_dir: Path, args: list[str], expected: int
) -> subprocess.Popen[bytes]:
    """A run of the project's ``test_linger.py`` that stays in its tests (``LINGER=1``) until
    it is killed; returned once ``expected`` reports (one per worker) are in ``report_dir``."""
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args, "-p", "no:randomly", "-q", "test_linger.py"],
        cwd=project.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "LINGER": "1"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while len(list(report_dir.iterdir())) < expected:
        assert time.monotonic() < deadline, "the lingering run never reached its tests"
        assert run.poll() is None, "the lingering run ended early"
        time.sleep(0.05)
    return run


@pytest.fixture
def project(
    pytester: pytest.Pytester, server_url: str, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A user's project: a Cosmic-Python-style app (models, UoW with an import-time default
    factory, a Flask endpoint) whose pyproject points pytest-uow at it."""
    for name in (*ENVIRONMENT_VARIABLES, "PGOPTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UOW_DATABASE_URL", server_url)
    monkeypatch.setenv("XDG_CACHE_HOME", CACHE_HOME)
    pytester.copy_example("project/app.py")
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


ALEMBIC_INI = '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_alembic = "alembic.ini"\n'


@pytest.fixture
def migrated(
    project: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A project with three migrations (tables, reference rows, a column), a cache of its own,
    and a log of every migration that ran."""
    project.copy_example("migrations")
    project.makepyprojecttoml(ALEMBIC_INI)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MIGRATION_LOG", str(tmp_path / "migrations.log"))
    return project


def migrations_run(tmp_path: Path) -> list[str]:
    """The revisions whose upgrade ran, in order, in ``migrated``'s runs so far."""
    log = tmp_path / "migrations.log"
    return log.read_text().split() if log.exists() else []
