"""benchmarks/compare.py: bad flags are argparse errors. Its figures are checked by the
``compare.py --quick`` step of ``.ci/run``: a run that misses a figure exits non-zero."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

COMPARE = Path(__file__).parent.parent / "benchmarks" / "compare.py"


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
