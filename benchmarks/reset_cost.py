"""Per-test reset cost of each strategy, by schema size, as the plugin measures it.

Generates a schema of N tables (each with an identity column and a foreign key to the previous
table) and a suite whose tests write one row into one table, or nothing; runs it with each
strategy and reads the plugin's own reset timings from the summary line
(``uow: reset <strategy>: <n> tests, p50 <ms>, p95 <ms>``).

    python benchmarks/reset_cost.py                  # throwaway server
    python benchmarks/reset_cost.py --tables 20 200 --tests 200
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

STRATEGIES = ("rollback", "truncate", "recreate")
_SUMMARY = re.compile(r"uow: reset (\w+): (\d+) tests, p50 ([\d.]+) ms, p95 ([\d.]+) ms")


def _write_project(root: Path, tables: int, tests: int, writes: bool) -> None:
    (root / "models.py").write_text(
        textwrap.dedent(f"""
        from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table
        metadata = MetaData()
        tables = []
        for i in range({tables}):
            columns = [Column("id", Integer, primary_key=True), Column("name", String(50))]
            if tables:
                columns.append(Column("parent_id", Integer, ForeignKey(tables[-1].c.id)))
            tables.append(Table(f"t{{i:03}}", metadata, *columns))
        """)
    )
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "models:metadata"\n'
    )
    body = (
        "    uow_session.execute(tables[-1].insert().values(name='x'))\n    uow_session.commit()\n"
        if writes
        else "    pass\n"
    )
    (root / "test_reset.py").write_text(
        "from models import tables\n\n"
        + "\n".join(f"def test_{i}(uow_session):\n{body}" for i in range(tests))
    )


def measure(tables: int, tests: int, strategy: str, writes: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        _write_project(root, tables, tests, writes)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:xdist",
                "-p",
                "no:randomly",
                "-p",
                "no:cacheprovider",
                f"--uow-strategy={strategy}",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    match = _SUMMARY.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"benchmark run failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return float(match.group(3)), float(match.group(4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tables", type=int, nargs="+", default=[20, 50, 200], help="schema sizes to measure"
    )
    parser.add_argument("--tests", type=int, default=100, help="tests per run")
    args = parser.parse_args()
    print(f"{'tables':>6}  {'strategy':9} {'writes':13} {'p50 ms':>8} {'p95 ms':>8}")
    for tables in args.tables:
        for strategy in STRATEGIES:
            for writes in (False, True):
                p50, p95 = measure(tables, args.tests, strategy, writes)
                label = "1 row, 1 table" if writes else "nothing"
                print(f"{tables:>6}  {strategy:9} {label:13} {p50:8.2f} {p95:8.2f}", flush=True)


if __name__ == "__main__":
    main()
