"""What a connection left idle in a transaction costs a run: the same suite of small tests,
with and without one test that leaves a session open (as the Cosmic Python book's concurrency
test does), timed as whole ``pytest`` runs, per reset strategy.

The leftover holds a lock on a worker table until the plugin ends its connection: at the next
reset that needs the table (``truncate``), or at the final drop (``rollback``). The extra
wall time is what finding and ending it costs.

    python benchmarks/leftovers.py                 # throwaway server
    UOW_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python benchmarks/leftovers.py
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from compare import run_pytest

import pytest_uow

APP = """
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
batches = Table(
    "batches", metadata, Column("id", Integer, primary_key=True), Column("ref", String(20))
)
"""
TEST = """
def test_{i}(uow_session):
    uow_session.execute(batches.insert().values(ref="b{i}"))
    uow_session.commit()
    assert uow_session.execute(select(func.count()).select_from(batches)).scalar_one() == 1
"""
LEFTOVER = """
LEFT_OPEN = []


def test_leaves_a_session_idle_in_a_transaction(uow_engine):
    session = Session(uow_engine)
    session.execute(select(batches))
    LEFT_OPEN.append(session)
"""


def _write(root: Path, strategy: str, count: int, leftover: bool) -> None:
    root.mkdir()
    (root / "app.py").write_text(APP)
    (root / "pyproject.toml").write_text(
        f'[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
        f'uow_strategy = "{strategy}"\n'
    )
    head = (
        "from sqlalchemy import func, select\nfrom sqlalchemy.orm import Session\n\n"
        "from app import batches\n"
    )
    tests = [textwrap.dedent(TEST).format(i=i) for i in range(count)]
    if leftover:
        tests.insert(count // 2, textwrap.dedent(LEFTOVER))
    (root / "test_suite.py").write_text(head + "\n".join(tests))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=26)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    configured = os.environ.get("UOW_DATABASE_URL")
    walls: dict[tuple[str, bool], list[float]] = {}
    with contextlib.ExitStack() as stack:
        server = configured or stack.enter_context(pytest_uow.throwaway_server())
        env = dict(os.environ, UOW_DATABASE_URL=server)
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        print(
            f"server: {configured or 'throwaway server'}; {args.tests} tests, -p no:xdist; "
            f"{args.repeat} alternating rounds, medians"
        )
        for round_number in range(args.repeat):
            print(f"round {round_number + 1}/{args.repeat}", file=sys.stderr, flush=True)
            for strategy in ("rollback", "truncate"):
                for leftover in (False, True):
                    root = directory / f"{strategy}-{leftover}"
                    if not root.exists():
                        _write(root, strategy, args.tests, leftover)
                    wall, output = run_pytest(root, ["-p", "no:xdist"], env)
                    if leftover and "terminated 1 connection(s)" not in output:
                        raise SystemExit(f"the leftover was not ended:\n{output[-3000:]}")
                    walls.setdefault((strategy, leftover), []).append(wall)
    for strategy in ("rollback", "truncate"):
        clean = statistics.median(walls[(strategy, False)])
        left = statistics.median(walls[(strategy, True)])
        print(
            f"{strategy:9} without a leftover {clean:5.2f} s, with one {left:5.2f} s: "
            f"{left - clean:+.2f} s"
        )


if __name__ == "__main__":
    main()
