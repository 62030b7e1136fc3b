"""Compare pytest-uow's strategies with the approaches teams write by hand, side by side.

Runs synthetic suites as real pytest runs on this machine, for each of the plugin's strategies
(rollback, truncate, recreate, at each worker count, in each isolation mode: a schema per worker
or a database per worker) and three baselines (-n 0 only):
create-all/drop-all around every test, SQLAlchemy's hand-written savepoint recipe, and one
TRUNCATE of every table after each test. Prints whole-suite wall times (median of several runs,
with their spread) and the per-test reset cost measured inside each run, with ratios against
rollback and against create-all/drop-all; saves JSON and a PNG chart under benchmarks/results/.

    python benchmarks/compare.py            # about 5 minutes on 2 cores
    python benchmarks/compare.py --quick    # under a minute; a smoke run, saved elsewhere
    python benchmarks/compare.py --full     # more sizes, rows and workers
    python benchmarks/compare.py --drivers sync asyncpg psycopg --isolation schema
                                            # async tests (uow_async_session) beside sync ones

Results go to benchmarks/results/ (what the README shows), except those of --quick, which go to
a temporary directory unless --save or --output says otherwise. In database mode the template is
built by the first run at each size and reused by the runs after it, as on a real server; the
templates are dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import BASELINES, write_suite

import pytest_uow

STRATEGIES = tuple(pytest_uow.STRATEGIES)
ISOLATIONS = tuple(pytest_uow.ISOLATIONS)
PREFIX = "uowbench"
ASYNC_DRIVERS = ("sync", "asyncpg", "psycopg")
_ASYNC_URL_DRIVER = {"asyncpg": "asyncpg", "psycopg": "psycopg_async"}
RESULTS = Path(__file__).parent / "results"
REFERENCE_BASELINE = "create-drop"
_RESET_LINE = re.compile(r"uow: reset ([\w-]+): (\d+) tests?, p50 ([\d.]+) ms, p95 ([\d.]+) ms")
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"tables": [10], "rows": [1], "workers": ["0", "2"], "tests": 20, "repeat": 1},
    "default": {
        "tables": [10, 50, 200],
        "rows": [1],
        "workers": ["0", "2"],
        "tests": 60,
        "repeat": 3,
    },
    "full": {
        "tables": [10, 50, 200],
        "rows": [1, 20],
        "workers": ["0", "2", "auto"],
        "tests": 200,
        "repeat": 5,
    },
}


@dataclass
class Result:
    """One variant at one point of the sweep."""

    variant: str
    kind: str  # "strategy" or "baseline"
    isolation: str  # the strategies' isolation mode; a baseline's own schema: "schema"
    tables: int
    rows: int
    workers: str
    tests: int
    driver: str = "sync"  # "sync", or the async driver of async tests: asyncpg, psycopg
    wall_seconds: dict[str, Any] = field(default_factory=dict)  # median, min, max, runs
    reset_ms: dict[str, float] = field(default_factory=dict)  # count, p50, p95

    @property
    def label(self) -> str:
        """The variant as the report names it: ``rollback``, ``rollback/asyncpg``."""
        return self.variant if self.driver == "sync" else f"{self.variant}/{self.driver}"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Sizes not given come from the preset.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument(
        "--quick",
        action="store_const",
        const="quick",
        dest="preset",
        help="10 tables, 20 tests, one run each: under a minute",
    )
    preset.add_argument(
        "--full",
        action="store_const",
        const="full",
        dest="preset",
        help="10/50/200 tables, 1 and 20 rows, -n 0/2/auto, 200 tests, 5 runs",
    )
    parser.add_argument(
        "--tables",
        type=int,
        nargs="+",
        metavar="N",
        help="schema sizes to sweep (default preset: 10 50 200)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        metavar="N",
        help="rows each test writes; 0 measures tests that write nothing (default preset: 1)",
    )
    parser.add_argument(
        "--workers",
        nargs="+",
        metavar="N",
        choices=["0", "1", "2", "4", "auto"],
        help="pytest-xdist worker counts for the strategies; baselines run "
        "with -n 0 only (default preset: 0 2)",
    )
    parser.add_argument(
        "--isolation",
        nargs="+",
        metavar="MODE",
        choices=ISOLATIONS,
        help=f"isolation modes for the strategies (default: {' '.join(ISOLATIONS)})",
    )
    parser.add_argument(
        "--seed-rows",
        type=int,
        default=0,
        metavar="N",
        help="the strategies' runs get a uow_seed of N reference rows (default: 0, no seed)",
    )
    parser.add_argument(
        "--drivers",
        nargs="+",
        default=["sync"],
        choices=ASYNC_DRIVERS,
        help="sync tests (uow_session), and/or async tests (uow_async_session, one event loop "
        "for the session) through asyncpg or psycopg (default: sync)",
    )
    parser.add_argument("--tests", type=int, metavar="N", help="tests per suite (default: 60)")
    parser.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help="runs per measurement; the median is reported (default: 3)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="where compare.json and compare.png go (default: benchmarks/results, or a "
        "temporary directory for --quick)",
    )
    parser.add_argument(
        "--save",
        action="store_true",
        help="with --quick: write to benchmarks/results all the same",
    )
    args = parser.parse_args(argv)
    if args.output is None:
        quick = args.preset == "quick" and not args.save
        args.output = Path(tempfile.mkdtemp(prefix="uow-compare-")) if quick else RESULTS
    for name, value in PRESETS[args.preset or "default"].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.isolation is None:
        args.isolation = list(ISOLATIONS)
    for name in ("tests", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if min(args.tables) < 1 or min(args.rows) < 0 or args.seed_rows < 0:
        parser.error("--tables must be at least 1, --rows and --seed-rows at least 0")
    return args


def run_pytest(root: Path, args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run pytest in ``root`` as a user would; return its wall time and output, or exit."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        *args,
    ]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"benchmark run failed ({' '.join(args)} in {root}):\n"
            f"{result.stdout[-4000:]}{result.stderr[-2000:]}"
        )
    return elapsed, result.stdout


def _measure(result: Result, server: URL, bench_url: URL, repeat: int, seed_rows: int = 0) -> None:
    env = dict(os.environ, BENCH_URL=bench_url.render_as_string(hide_password=False))
    if result.kind == "baseline":
        pytest_args = ["-p", "no:uow", "-p", "no:xdist"]
    else:
        url = server
        if result.driver != "sync":
            url = server.set(drivername=f"postgresql+{_ASYNC_URL_DRIVER[result.driver]}")
        pytest_args = [
            *(["-p", "asyncio"] if result.driver != "sync" else []),
            f"--uow-url={url.render_as_string(hide_password=False)}",
            f"--uow-strategy={result.variant}",
            f"--uow-isolation={result.isolation}",
            f"--uow-schema-prefix={PREFIX}",
            *(["--uow-seed=models:seed"] if seed_rows else []),
        ]
        pytest_args += ["-p", "no:xdist"] if result.workers == "0" else ["-n", result.workers]
    walls = []
    resets: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="uow-bench-") as directory:
        write_suite(
            Path(directory),
            tables=result.tables,
            tests=result.tests,
            rows=result.rows,
            variant=result.variant,
            seed_rows=seed_rows,
            asynchronous=result.driver != "sync",
        )
        for _ in range(repeat):
            wall, output = run_pytest(Path(directory), pytest_args, env)
            walls.append(wall)
            match = next(
                (m for m in _RESET_LINE.finditer(output) if m.group(1) == result.variant), None
            )
            if match is None:
                raise SystemExit(f"no reset figures for {result.variant} in:\n{output[-2000:]}")
            resets.append((int(match.group(2)), float(match.group(3)), float(match.group(4))))
    result.wall_seconds = {
        "median": statistics.median(walls),
        "min": min(walls),
        "max": max(walls),
        "runs": walls,
    }
    result.reset_ms = {
        "count": resets[0][0],
        "p50": statistics.median(r[1] for r in resets),
        "p95": statistics.median(r[2] for r in resets),
    }


def _check(plan: list[Result], tests: int) -> None:
    """Every variant measured every reset, with figures that make sense; else exit, so that a
    smoke run (``--quick`` in CI) fails loudly instead of saving holes."""
    problems = [
        f"{r.variant} ({r.isolation}, {r.tables} tables, -n {r.workers}): "
        f"{r.reset_ms or 'no figures'}"
        for r in plan
        if r.reset_ms.get("count") != tests
        or not 0 < r.reset_ms["p50"] <= r.reset_ms["p95"]
        or not r.wall_seconds["min"] <= r.wall_seconds["median"] <= r.wall_seconds["max"]
    ]
    if problems:
        raise SystemExit("benchmark figures are incomplete: " + "; ".join(problems))


def _plan(args: argparse.Namespace) -> list[Result]:
    plan = []
    for tables in args.tables:
        for rows in args.rows:
            for isolation in args.isolation:
                for strategy in STRATEGIES:
                    for workers in args.workers:
                        for driver in args.drivers:
                            plan.append(
                                Result(
                                    strategy,
                                    "strategy",
                                    isolation,
                                    tables,
                                    rows,
                                    workers,
                                    args.tests,
                                    driver,
                                )
                            )
            for baseline in BASELINES:
                plan.append(Result(baseline, "baseline", "schema", tables, rows, "0", args.tests))
    return plan


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:6.2f}x" if reference else "      -"


def _report(results: list[Result]) -> list[str]:
    lines = [
        f"{'tables':>6} {'rows':>4} {'variant':17} {'isolation':9} {'-n':>4} "
        f"{'wall s (min-max)':>19} "
        f"{'reset p50':>10} {'p95 ms':>8} {'p50 vs rollback':>16} {'p50 vs create-drop':>19} "
        f"{'wall vs create-drop':>20}"
    ]
    for result in results:
        same_point = [r for r in results if (r.tables, r.rows) == (result.tables, result.rows)]
        # The reference is sync rollback: async variants show their cost against it.
        rollbacks = [r for r in same_point if (r.variant, r.driver) == ("rollback", "sync")]
        rollback = next(
            (
                r
                for r in rollbacks
                if (r.workers, r.isolation) == (result.workers, result.isolation)
            ),
            next(iter(rollbacks), None),
        )
        create_drop = next((r for r in same_point if r.variant == REFERENCE_BASELINE), None)
        wall = result.wall_seconds
        p50 = result.reset_ms["p50"]
        create_drop_wall = create_drop.wall_seconds["median"] if create_drop else None
        lines.append(
            f"{result.tables:>6} {result.rows:>4} {result.label:17} {result.isolation:9} "
            f"{result.workers:>4} "
            f"{wall['median']:7.2f} ({wall['min']:.2f}-{wall['max']:.2f}) "
            f"{p50:10.2f} {result.reset_ms['p95']:8.2f} "
            f"{_ratio(p50, rollback.reset_ms['p50'] if rollback else None):>16} "
            f"{_ratio(p50, create_drop.reset_ms['p50'] if create_drop else None):>19} "
            f"{_ratio(wall['median'], create_drop_wall):>20}"
        )
    lines.append("")
    for result in results:
        if result.kind != "strategy" or result.workers == "0":
            continue
        serial = next(
            (
                r
                for r in results
                if (r.variant, r.driver, r.isolation, r.tables, r.rows, r.workers)
                == (
                    result.variant,
                    result.driver,
                    result.isolation,
                    result.tables,
                    result.rows,
                    "0",
                )
            ),
            None,
        )
        if serial is not None:
            speedup = serial.wall_seconds["median"] / result.wall_seconds["median"]
            lines.append(
                f"-n {result.workers} over -n 0: {speedup:.2f}x the speed, "
                f"{1 / speedup:.2f}x the wall time  ({result.label}, "
                f"{result.isolation}, "
                f"{result.tables} tables, {result.rows} rows, {result.tests} tests)"
            )
    return lines


def _chart(results: list[Result], path: Path) -> bool:
    """Reset cost against schema size, one line per variant at -n 0; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(8, 5))
    rows = min(r.rows for r in results)
    curves = [(variant, "schema") for variant in [*STRATEGIES, *BASELINES]]
    curves += [(variant, "database") for variant in STRATEGIES]
    for variant, isolation in curves:
        points = sorted(
            (r.tables, r.reset_ms["p50"])
            for r in results
            if (r.variant, r.isolation, r.workers, r.rows, r.driver)
            == (variant, isolation, "0", rows, "sync")
        )
        if points:
            label = variant if isolation == "schema" else f"{variant} (database)"
            axes.plot(*zip(*points, strict=True), marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("tables in the schema")
    axes.set_ylabel("reset cost per test, p50 (ms)")
    axes.set_title(f"pytest-uow: per-test reset cost ({rows} row per test, -n 0)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def drop_templates(admin: Engine, prefix: str = PREFIX) -> None:
    """The database mode's templates of a benchmark's prefix: kept by design on a real
    server, but these served the benchmark only."""
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        templates = connection.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :p AND datistemplate"),
            {"p": f"{prefix}\\_tpl\\_%"},
        ).scalars()
        for name in list(templates):
            connection.execute(text(f"ALTER DATABASE {name} WITH IS_TEMPLATE false"))
            connection.execute(text(f"DROP DATABASE {name}"))


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    configured = os.environ.get("UOW_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        server_url = make_url(configured or stack.enter_context(pytest_uow.throwaway_server()))
        if "+" not in server_url.drivername:
            server_url = server_url.set(drivername="postgresql+psycopg2")
        bench_schema = f"uow_bench_{secrets.token_hex(4)}"
        # The baselines' own schema, selected as a hand-written fixture would select it.
        bench_url = server_url.update_query_dict({"options": f"-csearch_path={bench_schema}"})
        admin = create_engine(server_url, poolclass=NullPool)
        with admin.begin() as connection:  # the baselines' own schema, never the user's public
            server_version = connection.execute(text("SHOW server_version")).scalar_one()
            connection.execute(text(f"CREATE SCHEMA {bench_schema}"))
        try:
            plan = _plan(args)
            started = time.perf_counter()
            for index, result in enumerate(plan, 1):
                print(
                    f"[{index}/{len(plan)}] {result.label} ({result.isolation}), "
                    f"{result.tables} tables, "
                    f"{result.rows} rows, -n {result.workers}, {result.tests} tests "
                    f"x {args.repeat}  ({time.perf_counter() - started:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                _measure(result, server_url, bench_url, args.repeat, args.seed_rows)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {bench_schema} CASCADE"))
            drop_templates(admin)
            admin.dispose()
    _check(plan, args.tests)
    report = _report(plan)
    print("\n".join(report))
    args.output.mkdir(parents=True, exist_ok=True)
    document = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "server": {
            "kind": "UOW_DATABASE_URL" if configured else "throwaway",
            "version": server_version,
        },
        "settings": {
            name: getattr(args, name)
            for name in ("tables", "rows", "workers", "isolation", "seed_rows", "tests", "repeat")
        },
        "results": [asdict(result) for result in plan],
    }
    (args.output / "compare.json").write_text(json.dumps(document, indent=2) + "\n")
    charted = _chart(plan, args.output / "compare.png")
    print(
        f"\nsaved {args.output / 'compare.json'}"
        + (
            f" and {args.output / 'compare.png'}"
            if charted
            else " (no chart: pip install 'pytest-uow[bench]' for matplotlib)"
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
