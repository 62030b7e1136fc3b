"""The benchmarks run and print their figures: ``compare.py --quick`` (a run that misses a figure
exits non-zero) and ``startup.py``; bad flags are argparse errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COMPARE = Path(__file__).parents[2] / "benchmarks" / "compare.py"


def test_bad_flag_is_an_argparse_error() -> None:
    result = subprocess.run(
        [sys.executable, str(COMPARE), "--workers", "many"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert "argument --workers: invalid choice: 'many'" in result.stderr


def _output(*argv: str) -> Path:
    sys.path.insert(0, str(COMPARE.parent))
    try:
        import compare
    finally:
        sys.path.remove(str(COMPARE.parent))
    output: Path = compare._parse_args(list(argv)).output
    return output


def test_quick_runs_leave_the_committed_results_alone() -> None:
    results = COMPARE.parent / "results"
    assert _output("--quick") != results
    assert _output("--quick", "--save") == results
    assert _output() == results


def test_compare_quick_measures_every_strategy_and_baseline() -> None:
    result = subprocess.run(
        [sys.executable, str(COMPARE), "--quick"],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "UOW_DATABASE_URL"},
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for strategy in ("rollback", "truncate", "recreate"):
        assert strategy in result.stdout


def test_startup_measures_both_sides() -> None:
    result = subprocess.run(
        [sys.executable, str(COMPARE.with_name("startup.py")), "--repeat", "1", "--tests", "4"],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "UOW_DATABASE_URL"},
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "--co -q" in result.stdout
    assert "uow: plugin loaded in 2 test process(es) in" in result.stdout
