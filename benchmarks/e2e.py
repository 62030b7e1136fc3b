"""Per-test cost of an end-to-end test in examples/allocation: through the live server under
rollback (``uow_live_server``), through a server in a child process under truncate, and, for
reference, an API test through Flask's test client.

Each kind is written as suites of two sizes into a copy of the example (its app, migrations and
settings), and whole ``pytest`` runs are timed; the difference divided by the difference in test
count is the cost of one more test, so fixed costs (interpreter start, server start, migrations)
cancel out. Kinds run in turn, round after round; medians are reported, for -p no:xdist and -n 2.

    python benchmarks/e2e.py                 # throwaway server
    UOW_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python benchmarks/e2e.py
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from compare import run_pytest

import pytest_uow

EXAMPLE = Path(__file__).parent.parent / "examples" / "allocation"
SAME_STEPS = """
    status, _ = call("POST", f"{{url}}/batches", {{"ref": "b1", "sku": "SKU-{i}", "qty": 10}})
    assert status == 201
    line = {{"orderid": "o1", "sku": "SKU-{i}", "qty": 4}}
    status, body = call("POST", f"{{url}}/allocate", line)
    assert (status, body) == (201, {{"batchref": "b1"}})
"""
KINDS = {
    "API test, test client (rollback)": (
        "from allocation.entrypoints.flask_app import create_app\n\n"
        "def call(method, url, body):\n"
        "    response = CLIENT.open(url, method=method, json=body)\n"
        "    return response.status_code, response.get_json(silent=True)\n\n"
        "CLIENT = create_app().test_client()\n",
        "def test_{i}():\n    url = ''" + SAME_STEPS,
    ),
    "e2e, live server (rollback)": (
        "",
        "def test_{i}(uow_live_server, call):\n    url = str(uow_live_server)" + SAME_STEPS,
    ),
    "e2e, child process (truncate)": (
        "from test_server import server  # noqa: F401\n\n"
        "import pytest\n\npytestmark = pytest.mark.uow(strategy='truncate')\n",
        "def test_{i}(server, call):\n    url = server" + SAME_STEPS,
    ),
}


def _write(root: Path, kind: str, count: int) -> None:
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    e2e = root / "tests"
    e2e.mkdir()
    for name in ("conftest.py", "test_server.py"):
        shutil.copy(EXAMPLE / "tests" / "e2e" / name, e2e / name)
    # The child-process fixture finds the app's sources two levels up, as in the example.
    (e2e / "test_server.py").write_text(
        (e2e / "test_server.py").read_text().replace("parents[2]", "parents[1]")
    )
    head, body = KINDS[kind]
    tests = "\n\n".join(textwrap.dedent(body).format(i=i) for i in range(count))
    (e2e / "test_generated.py").write_text(f"{head}\n\n{tests}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=20)
    parser.add_argument("--large", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    configured = os.environ.get("UOW_DATABASE_URL")
    modes = {"-p no:xdist": ["-p", "no:xdist"], "-n 2": ["-n", "2"]}
    walls: dict[tuple[str, str, int], list[float]] = {}
    with contextlib.ExitStack() as stack:
        server = configured or stack.enter_context(pytest_uow.throwaway_server())
        env = dict(os.environ, UOW_DATABASE_URL=server)
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        print(
            f"server: {configured or 'throwaway server'}; suites of {args.small} and "
            f"{args.large} tests; {args.repeat} alternating rounds, medians"
        )
        for round_number in range(args.repeat):
            print(f"round {round_number + 1}/{args.repeat}", file=sys.stderr, flush=True)
            for kind in KINDS:
                for count in (args.small, args.large):
                    root = directory / f"{list(KINDS).index(kind)}-{count}"
                    if not root.exists():
                        _write(root, kind, count)
                    for mode, mode_args in modes.items():
                        command = ["tests/test_generated.py", *mode_args]
                        wall, _ = run_pytest(root, command, env)
                        walls.setdefault((kind, mode, count), []).append(wall)
    reference = next(iter(KINDS))
    for mode in modes:
        print(f"-- {mode}")
        costs = {
            kind: (
                statistics.median(walls[(kind, mode, args.large)])
                - statistics.median(walls[(kind, mode, args.small)])
            )
            / (args.large - args.small)
            * 1000
            for kind in KINDS
        }
        for kind, cost in costs.items():
            print(f"{kind:36} {cost:6.2f} ms/test   ({cost / costs[reference]:.2f}x the API test)")


if __name__ == "__main__":
    main()
