"""What pytest-uow costs a pytest process at start-up.

1. In a project that has not configured it: ``pytest --version`` and ``pytest --co -q`` with the
   plugin and with ``-p no:uow``, alternating, median of ``--repeat`` runs each. The goal is at
   most 30 ms more: the entry point imports nothing heavy until a project uses the plugin.
2. In a configured run under ``-n 2``: how long loading the plugin (SQLAlchemy with it, and the
   settings) took in each worker, as the run's own summary reports it, and the run's wall time.

Other plugins installed on the machine are kept out of the measured runs (``-p no:NAME``), so the
figures are pytest's and this plugin's alone.

    python benchmarks/startup.py
    python benchmarks/startup.py --repeat 15
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import entry_points
from pathlib import Path

OWN = {"pytest", "pytest-uow", "pytest-xdist"}
PLAIN_TEST = "def test_plain():\n    assert True\n"
APP = """
from sqlalchemy import Column, Integer, MetaData, Table

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True))
"""
CONFIGURED_TEST = """
def test_{i}(uow_connection):
    uow_connection.execute(items.insert().values(id={i}))
"""


def _blocked() -> list[str]:
    """``-p no:NAME`` for every pytest plugin of the environment that is not ours or pytest's."""
    names = sorted(
        ep.name
        for ep in entry_points(group="pytest11")
        if ep.dist is None or ep.dist.name not in OWN
    )
    return [arg for name in names for arg in ("-p", f"no:{name}")]


def _seconds(args: list[str], cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UOW_")}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - started


def unconfigured(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "test_plain.py").write_text(PLAIN_TEST)
        (root / "pytest.ini").write_text("[pytest]\n")
        blocked = _blocked()
        print("Unconfigured project, median of", repeat, "alternating runs (ms):")
        print(f"  {'command':<16}{'with plugin':>12}{'-p no:uow':>12}{'added':>8}")
        for command in (["--version"], ["--co", "-q"]):
            with_plugin, without = [], []
            for _ in range(repeat):
                with_plugin.append(_seconds([*blocked, *command], root))
                without.append(_seconds([*blocked, "-p", "no:uow", *command], root))
            a, b = statistics.median(with_plugin) * 1000, statistics.median(without) * 1000
            print(f"  {' '.join(command):<16}{a:>12.0f}{b:>12.0f}{a - b:>8.0f}")


def configured(tests: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "app.py").write_text(APP)
        (root / "pyproject.toml").write_text(
            '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "app:metadata"\n'
        )
        body = "from app import items\n" + "".join(
            CONFIGURED_TEST.format(i=i) for i in range(tests)
        )
        (root / "test_items.py").write_text(body)
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_AUTO_NUM_WORKERS"}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *_blocked(), "-n", "2", "-q"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        loaded = re.search(r"uow: plugin loaded in .*", result.stdout)
        server = re.search(r"uow: throwaway PostgreSQL .*", result.stdout)
        print(f"Configured run, {tests} tests, -n 2: wall {wall:.2f} s")
        for line in (loaded, server):
            if line is not None:
                print(f"  {line.group(0)}")
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:])
            raise SystemExit(result.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--tests", type=int, default=20)
    args = parser.parse_args()
    unconfigured(args.repeat)
    configured(args.tests)


if __name__ == "__main__":
    main()
