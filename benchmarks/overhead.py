"""Per-test cost of pytest-uow's isolation, against plain pytest.

Generates suites of trivial tests and times whole ``pytest`` runs of two sizes for each variant;
the difference divided by the difference in test count is the cost of one more test, so fixed
costs (interpreter start, server start, schema creation) cancel out.

    python benchmarks/overhead.py                  # throwaway server
    UOW_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python benchmarks/overhead.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from compare import run_pytest

APP = textwrap.dedent("""
    from sqlalchemy import Column, Integer, MetaData, String, Table
    metadata = MetaData()
    items = Table(
        "items", metadata, Column("id", Integer, primary_key=True), Column("name", String)
    )
""")

INSERT_AND_COMMIT = (
    "def test_{i}(uow_session):\n"
    "    uow_session.execute(items.insert().values(name='x'))\n"
    "    uow_session.commit()\n"
)
VARIANTS = {
    "plain pytest (-p no:uow)": ("def test_{i}():\n    pass\n", ["-p", "no:uow"]),
    "uow_session, no writes": ("def test_{i}(uow_session):\n    pass\n", []),
    "uow_session, insert + commit": (INSERT_AND_COMMIT, []),
    # The leak detector scans the tables outside the worker schemas: few, in these suites.
    "insert + commit, check leaks": (INSERT_AND_COMMIT, ["--uow-check-leaks"]),
}


def _write_suite(root: Path, body: str, count: int) -> None:
    (root / "app.py").write_text(APP)
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
    )
    tests = "from app import items\n\n" + "\n".join(body.format(i=i) for i in range(count))
    (root / "test_generated.py").write_text(tests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200, help="tests in the small suite")
    parser.add_argument("--large", type=int, default=1200, help="tests in the large suite")
    parser.add_argument("--repeat", type=int, default=3, help="runs per suite (median taken)")
    args = parser.parse_args()
    server = os.environ.get("UOW_DATABASE_URL", "throwaway server")
    print(
        f"server: {server}; suites of {args.small} and {args.large} tests; "
        f"median of {args.repeat} runs; -p no:xdist"
    )
    env = dict(os.environ)
    baseline: float | None = None
    for name, (body, extra) in VARIANTS.items():
        medians = []
        for count in (args.small, args.large):
            with tempfile.TemporaryDirectory() as directory:
                _write_suite(Path(directory), body, count)
                runs = [
                    run_pytest(Path(directory), ["-p", "no:xdist", *extra], env)[0]
                    for _ in range(args.repeat)
                ]
            medians.append(statistics.median(runs))
        per_test_ms = (medians[1] - medians[0]) / (args.large - args.small) * 1000
        baseline = per_test_ms if baseline is None else baseline
        print(
            f"{name:32} {per_test_ms:6.3f} ms/test   (+{per_test_ms - baseline:.3f} ms over "
            f"plain; whole run of {args.large}: {medians[1]:.2f} s)"
        )


if __name__ == "__main__":
    main()
