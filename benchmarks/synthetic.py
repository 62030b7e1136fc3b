"""Synthetic suites for the benchmarks: a schema of N tables and tests that write to it.

Every test asserts that its table is empty before it writes, so a strategy that leaks rows
fails the benchmark instead of flattering it. The same test file runs under the plugin's
strategies and under three hand-written baselines, each given as the ``conftest.py`` a team
would write without pytest-uow.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

metadata = MetaData()
tables = []
for i in range({tables}):
    columns = [Column("id", Integer, primary_key=True), Column("name", String(50))]
    if tables:
        columns.append(Column("parent_id", Integer, ForeignKey(tables[-1].c.id)))
    tables.append(Table(f"t{{i:03}}", metadata, *columns))
"""

# Reference data for uow_seed: a table of its own that the tests read from but never write to.
SEEDED_MODELS = """
reference = Table(
    "reference", metadata, Column("id", Integer, primary_key=True), Column("name", String(50))
)


def seed(connection):
    connection.execute(reference.insert(), [{{"name": f"ref {{i}}"}} for i in range({seed_rows})])
"""

TESTS = """
import pytest
from sqlalchemy import func, select
from models import tables


@pytest.mark.parametrize("n", range({tests}))
def test_write(db, n):
    table = tables[n % len(tables)]
    assert db.execute(select(func.count()).select_from(table)).scalar_one() == 0
    if {rows}:
        db.execute(table.insert(), [{{"name": f"row {{i}}"}} for i in range({rows})])
        db.commit()
"""

# The same tests, async: an AsyncSession of the plugin's on the test's loop (one loop for the
# session, as a suite that cares for speed sets it).
ASYNC_TESTS = """
import pytest
from sqlalchemy import func, select

from models import tables


@pytest.mark.parametrize("n", range({tests}))
async def test_write(db, n):
    table = tables[n % len(tables)]
    assert (await db.execute(select(func.count()).select_from(table))).scalar_one() == 0
    if {rows}:
        await db.execute(table.insert(), [{{"name": f"row {{i}}"}} for i in range({rows})])
        await db.commit()
"""

ASYNC_PLUGIN_CONFTEST = """
import pytest


@pytest.fixture
def db(uow_async_session):
    return uow_async_session
"""
ASYNC_INI = (
    'asyncio_mode = "auto"\nasyncio_default_test_loop_scope = "session"\n'
    'asyncio_default_fixture_loop_scope = "session"\n'
)

PLUGIN_CONFTEST = """
import pytest


@pytest.fixture
def db(uow_session):
    return uow_session
"""

# The baselines time their own per-test isolation work and report it as the plugin does.
_BASELINE_COMMON = """
import os
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from models import metadata

engine = create_engine(os.environ["BENCH_URL"])
reset_seconds = []


def pytest_terminal_summary(terminalreporter):
    # The plugin's reset line, so that compare.py reads both the same way.
    ordered = sorted(reset_seconds)
    p50 = ordered[len(ordered) // 2] * 1000
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
    terminalreporter.write_line(
        f"uow: reset {name}: {{len(ordered)}} tests, p50 {{p50:.2f}} ms, p95 {{p95:.2f}} ms"
    )
"""

BASELINES = {
    # create_all / drop_all around every test: the widespread hand-written approach. Its cost
    # is both halves, as a recreate's is.
    "create-drop": """
@pytest.fixture
def db():
    started = time.perf_counter()
    metadata.create_all(engine)
    created = time.perf_counter() - started
    session = Session(engine)
    yield session
    started = time.perf_counter()
    session.close()
    metadata.drop_all(engine)
    reset_seconds.append(created + time.perf_counter() - started)
""",
    # SQLAlchemy's "Joining a Session into an External Transaction" recipe, one shared schema.
    "savepoint-recipe": """
@pytest.fixture(scope="session")
def connection():
    metadata.create_all(engine)
    with engine.connect() as connection:
        yield connection
    metadata.drop_all(engine)


@pytest.fixture
def db(connection):
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    yield session
    started = time.perf_counter()
    session.close()
    transaction.rollback()
    reset_seconds.append(time.perf_counter() - started)
""",
    # One TRUNCATE of every table after each test: pytest-django's transactional_db flush,
    # DatabaseCleaner's truncation.
    "truncate-all": """
@pytest.fixture(scope="session")
def tables():
    metadata.create_all(engine)
    yield ", ".join(table.name for table in metadata.sorted_tables)
    metadata.drop_all(engine)


@pytest.fixture
def db(tables):
    session = Session(engine)
    yield session
    started = time.perf_counter()
    session.close()
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    reset_seconds.append(time.perf_counter() - started)
""",
}


def write_suite(
    root: Path,
    *,
    tables: int,
    tests: int,
    rows: int,
    variant: str,
    seed_rows: int = 0,
    asynchronous: bool = False,
) -> None:
    """Write the project for one variant: a strategy name or a key of ``BASELINES``. With
    ``seed_rows``, ``models:seed`` fills a reference table of its own with that many rows;
    ``asynchronous``: the tests are async, on the plugin's ``uow_async_session``."""
    models = MODELS.format(tables=tables)
    if seed_rows:
        models += SEEDED_MODELS.format(seed_rows=seed_rows)
    (root / "models.py").write_text(textwrap.dedent(models))
    suite = ASYNC_TESTS if asynchronous else TESTS
    (root / "test_synthetic.py").write_text(textwrap.dedent(suite.format(tests=tests, rows=rows)))
    if variant in BASELINES:
        conftest = _BASELINE_COMMON.format(name=variant) + BASELINES[variant]
        ini = '[tool.pytest.ini_options]\npythonpath = ["."]\n'
    else:
        conftest = ASYNC_PLUGIN_CONFTEST if asynchronous else PLUGIN_CONFTEST
        ini = '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "models:metadata"\n'
        if asynchronous:
            ini += ASYNC_INI
    (root / "conftest.py").write_text(conftest)
    (root / "pyproject.toml").write_text(ini)
