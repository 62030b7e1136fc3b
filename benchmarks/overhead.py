"""Per-test cost of pytest-uow's isolation, against plain pytest and against SQLAlchemy's
hand-written savepoint recipe.

Also the cost of watching a test that asks nothing of the plugin (no fixture, no marker) in a
run where the plugin is configured, for what it commits (``leftovers/escapes.py``); and an
application's own sessionmaker on its own engine, re-bound because ``uow_sessionmakers`` names
it, against the same engine named nowhere and routed (every engine joins the test), with and
without a marker.

Generates suites of trivial tests and times whole ``pytest`` runs of two sizes for each variant;
the difference divided by the difference in test count is the cost of one more test, so fixed
costs (interpreter start, schema creation) cancel out. The variants run in turn, round after
round, so that a noisy minute on a small machine hits all of them alike; medians are reported.
Every variant uses the same server: the one ``UOW_DATABASE_URL`` names, else one throwaway
server started for the whole benchmark.

The async variants run under pytest-asyncio's auto mode, against plain async tests; with a
function-scoped loop (pytest-asyncio's default: every test opens its connection anew) and with
one loop for the session (the connection stays from test to test), with asyncpg and psycopg.

    python benchmarks/overhead.py                  # throwaway server
    UOW_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python benchmarks/overhead.py
    python benchmarks/overhead.py --only async     # the async variants, and both baselines
    python benchmarks/overhead.py --only watched   # a test asking nothing of the plugin
    python benchmarks/overhead.py --only "app engine"   # re-bound against routed
    python benchmarks/overhead.py --only "insert + commit"   # with module-scoped rows too
    .tox/sa14/bin/python benchmarks/overhead.py --only "insert + commit"   # on SQLAlchemy 1.4
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).parent))

from compare import run_pytest

import pytest_uow

APP = textwrap.dedent("""
    from sqlalchemy import Column, Integer, MetaData, String, Table
    metadata = MetaData()
    items = Table(
        "items", metadata, Column("id", Integer, primary_key=True), Column("name", String)
    )
""")

# SQLAlchemy's "Joining a Session into an External Transaction" recipe, as a team writes it
# without the plugin: its tables in a schema of its own, one connection for the session; in its
# 2.0 form, or its 1.4 form where SQLAlchemy 1.4 runs the benchmark.
RECIPE_CONFTEST = textwrap.dedent("""
    import os

    import pytest
    import sqlalchemy
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    from app import metadata


    @pytest.fixture(scope="session")
    def connection():
        engine = create_engine(os.environ["BENCH_URL"])
        metadata.create_all(engine)
        with engine.connect() as connection:
            yield connection
        metadata.drop_all(engine)
        engine.dispose()


    if sqlalchemy.__version__.startswith("1."):

        @pytest.fixture
        def uow_session(connection):
            transaction = connection.begin()
            session = Session(bind=connection)
            nested = connection.begin_nested()

            @event.listens_for(session, "after_transaction_end")
            def end_savepoint(session, ended):
                nonlocal nested
                if not nested.is_active:
                    nested = connection.begin_nested()

            yield session
            session.close()
            transaction.rollback()

    else:

        @pytest.fixture
        def uow_session(connection):
            transaction = connection.begin()
            session = Session(bind=connection, join_transaction_mode="create_savepoint")
            yield session
            session.close()
            transaction.rollback()
""")

INSERT_AND_COMMIT = (
    "def test_{i}(uow_session):\n"
    "    uow_session.execute(items.insert().values(name='x'))\n"
    "    uow_session.commit()\n"
)
ASYNC_INSERT_AND_COMMIT = (
    "async def test_{i}(uow_async_session):\n"
    "    await uow_async_session.execute(items.insert().values(name='x'))\n"
    "    await uow_async_session.commit()\n"
)
# The application's own engine on the configured database, and its sessionmaker.
APP_ENGINE = APP + textwrap.dedent("""
    import os
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker
    engine = create_engine(os.environ["UOW_DATABASE_URL"])
    Session = sessionmaker(engine)
""")
APP_INSERT_AND_COMMIT = (
    "def test_{i}():\n"
    "    with Session() as session:\n"
    "        session.execute(items.insert().values(name='x'))\n"
    "        session.commit()\n"
)
MARKED = "import pytest\npytestmark = pytest.mark.uow(strategy='rollback')\n"
# A module-scoped fixture whose rows every test of the module sees (``scoped.py``): each test
# then resets to a savepoint above the fixture's instead of rolling back its transaction.
MODULE_ROWS = textwrap.dedent("""
    import pytest
    from app import items


    @pytest.fixture(scope="module")
    def shared(uow_scoped_session):
        uow_scoped_session.execute(items.insert().values(name="shared"))
        uow_scoped_session.commit()
""")
MODULE_ROWS_INSERT_AND_COMMIT = (
    "def test_{i}(shared, uow_session):\n"
    "    uow_session.execute(items.insert().values(name='x'))\n"
    "    uow_session.commit()\n"
)
PLAIN = "plain pytest (-p no:uow)"
PLAIN_ASYNC = "plain async pytest (-p no:uow)"
UNASKED = "no fixture, configured (watched)"
RECIPE = "savepoint recipe, insert + commit"
PLUGIN = "uow_session, insert + commit"
ASYNC_ROLLBACK = "async, session loop, asyncpg"
ASYNC_MODE = ["-p", "asyncio", "-o", "asyncio_mode=auto"]
SESSION_LOOP = ["-o", "asyncio_default_test_loop_scope=session"]


@dataclass
class Variant:
    body: str
    args: list[str]
    conftest: str = ""
    driver: str | None = None  # the driver uow_database_url names (the async side uses it)
    app: str = APP
    ini: str = ""  # more of the suite's pytest settings
    header: str = ""  # the test module's first lines
    runs: dict[int, list[float]] = field(default_factory=dict)  # test count -> wall seconds

    def per_test_ms(self, small: int, large: int, pick: Callable[[list[float]], float]) -> float:
        """The cost of one more test, from the ``pick`` (median, min) of each size's runs."""
        walls = [pick(self.runs[count]) for count in (small, large)]
        return (walls[1] - walls[0]) / (large - small) * 1000


def _variants() -> dict[str, Variant]:
    return {
        PLAIN: Variant("def test_{i}():\n    pass\n", ["-p", "no:uow"]),
        # The plugin configured, the test asking nothing of it: watching it is the cost.
        UNASKED: Variant("def test_{i}():\n    pass\n", []),
        RECIPE: Variant(INSERT_AND_COMMIT, ["-p", "no:uow"], RECIPE_CONFTEST),
        "uow_session, no writes": Variant("def test_{i}(uow_session):\n    pass\n", []),
        PLUGIN: Variant(INSERT_AND_COMMIT, []),
        "module-scoped rows, insert + commit": Variant(
            MODULE_ROWS_INSERT_AND_COMMIT, [], header=MODULE_ROWS
        ),
        # The leak detector scans the tables outside the worker schemas: few, in these suites.
        "insert + commit, check leaks": Variant(INSERT_AND_COMMIT, ["--uow-check-leaks"]),
        "uow_session, truncate": Variant(INSERT_AND_COMMIT, ["--uow-strategy=truncate"]),
        "app engine, sessionmaker named (re-bound)": Variant(
            APP_INSERT_AND_COMMIT, [], app=APP_ENGINE, ini='uow_sessionmakers = ["app:Session"]\n'
        ),
        "app engine, named nowhere (routed)": Variant(APP_INSERT_AND_COMMIT, [], app=APP_ENGINE),
        "app engine, routed, marked test": Variant(
            APP_INSERT_AND_COMMIT, [], app=APP_ENGINE, header=MARKED
        ),
        PLAIN_ASYNC: Variant("async def test_{i}():\n    pass\n", [*ASYNC_MODE, "-p", "no:uow"]),
        ASYNC_ROLLBACK: Variant(
            ASYNC_INSERT_AND_COMMIT, [*ASYNC_MODE, *SESSION_LOOP], driver="asyncpg"
        ),
        "async, session loop, psycopg": Variant(
            ASYNC_INSERT_AND_COMMIT, [*ASYNC_MODE, *SESSION_LOOP], driver="psycopg_async"
        ),
        "async, function loop, asyncpg": Variant(
            ASYNC_INSERT_AND_COMMIT, ASYNC_MODE, driver="asyncpg"
        ),
        "async, session loop, asyncpg, truncate": Variant(
            ASYNC_INSERT_AND_COMMIT,
            [*ASYNC_MODE, *SESSION_LOOP, "--uow-strategy=truncate"],
            driver="asyncpg",
        ),
    }


def _write_suite(root: Path, variant: Variant, count: int) -> None:
    (root / "app.py").write_text(variant.app)
    (root / "conftest.py").write_text(variant.conftest)
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
        + variant.ini
    )
    imports = "from app import *\n" if variant.app is APP_ENGINE else "from app import items\n"
    tests = (
        variant.header + imports + "\n" + "\n".join(variant.body.format(i=i) for i in range(count))
    )
    (root / "test_generated.py").write_text(tests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200, help="tests in the small suite")
    parser.add_argument("--large", type=int, default=1200, help="tests in the large suite")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (the median is taken)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="variants whose name has NAME")
    args = parser.parse_args()
    variants = _variants()
    if args.only:
        baselines = {PLAIN, PLUGIN, PLAIN_ASYNC}
        keep = baselines | {n for n in variants if any(word in n for word in args.only)}
        variants = {name: variant for name, variant in variants.items() if name in keep}
    configured = os.environ.get("UOW_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        server = configured or stack.enter_context(pytest_uow.throwaway_server())
        url = make_url(server)
        if "+" not in url.drivername:
            url = url.set(drivername="postgresql+psycopg2")
        schema = f"uow_overhead_{secrets.token_hex(4)}"
        admin = create_engine(url, poolclass=NullPool)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        shown = url.render_as_string(hide_password=False)
        env = dict(
            os.environ,
            UOW_DATABASE_URL=shown,
            BENCH_URL=url.update_query_dict(
                {"options": f"-csearch_path={schema}"}
            ).render_as_string(hide_password=False),
        )
        print(
            f"server: {configured or 'throwaway server'}; suites of {args.small} and "
            f"{args.large} tests; {args.repeat} alternating rounds, medians; -p no:xdist"
        )
        try:
            with tempfile.TemporaryDirectory() as directory:
                for round_number in range(args.repeat):
                    print(f"round {round_number + 1}/{args.repeat}", file=sys.stderr, flush=True)
                    for variant in variants.values():
                        for count in (args.small, args.large):
                            root = Path(directory) / f"{id(variant)}-{count}"
                            if not root.exists():
                                root.mkdir()
                                _write_suite(root, variant, count)
                            variant_env = env
                            if variant.driver is not None:
                                named = url.set(drivername=f"postgresql+{variant.driver}")
                                variant_env = dict(
                                    env,
                                    UOW_DATABASE_URL=named.render_as_string(hide_password=False),
                                )
                            wall, _ = run_pytest(
                                root, ["-p", "no:xdist", *variant.args], variant_env
                            )
                            variant.runs.setdefault(count, []).append(wall)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()
    # Medians are the usual figure; on a small shared machine, noise only ever adds time, so
    # the fastest runs show the floor more steadily.
    for label, pick in (("median", statistics.median), ("fastest", min)):
        print(f"-- from the {label} runs")
        plain = variants[PLAIN].per_test_ms(args.small, args.large, pick)
        for name, variant in variants.items():
            per_test = variant.per_test_ms(args.small, args.large, pick)
            print(
                f"{name:36} {per_test:6.3f} ms/test   (+{per_test - plain:.3f} ms over plain; "
                f"whole run of {args.large}: {pick(variant.runs[args.large]):.2f} s)"
            )
        if PLUGIN in variants and RECIPE in variants:
            plugin = variants[PLUGIN].per_test_ms(args.small, args.large, pick)
            recipe = variants[RECIPE].per_test_ms(args.small, args.large, pick)
            print(f"rollback / hand-written savepoint recipe, per test: {plugin / recipe:.3f}x")
        if ASYNC_ROLLBACK in variants and PLAIN_ASYNC in variants:
            sync_overhead = variants[PLUGIN].per_test_ms(args.small, args.large, pick) - plain
            async_overhead = variants[ASYNC_ROLLBACK].per_test_ms(
                args.small, args.large, pick
            ) - variants[PLAIN_ASYNC].per_test_ms(args.small, args.large, pick)
            print(
                "async rollback (asyncpg, session loop) over plain async / sync rollback over "
                f"plain, per test: {async_overhead / sync_overhead:.3f}x"
            )


if __name__ == "__main__":
    main()
