"""benchmarks/compare.py: every strategy and baseline produces figures, in the documented
JSON shape, and bad flags are argparse errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

COMPARE = Path(__file__).parent.parent / "benchmarks" / "compare.py"


def test_quick_comparison_produces_every_figure(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UOW_DATABASE_URL", server_url)
    command = [
        sys.executable,
        str(COMPARE),
        "--quick",
        "--tables",
        "2",
        "--tests",
        "3",
        "--output",
        str(tmp_path),
    ]

    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "compare.json").read_text())
    assert set(document) == {"date", "machine", "server", "settings", "results"}
    assert document["settings"] == {
        "tables": [2],
        "rows": [1],
        "workers": ["0", "2"],
        "tests": 3,
        "repeat": 1,
    }
    seen = {(r["variant"], r["workers"]) for r in document["results"]}
    assert seen == {
        ("rollback", "0"),
        ("rollback", "2"),
        ("truncate", "0"),
        ("truncate", "2"),
        ("recreate", "0"),
        ("recreate", "2"),
        ("create-drop", "0"),
        ("savepoint-recipe", "0"),
        ("truncate-all", "0"),
    }
    for entry in document["results"]:
        assert (entry["tables"], entry["tests"]) == (2, 3)
        assert entry["reset_ms"]["count"] == 3, entry
        assert 0 < entry["reset_ms"]["p50"] <= entry["reset_ms"]["p95"]
        assert entry["wall_seconds"]["min"] <= entry["wall_seconds"]["median"]
    assert (tmp_path / "compare.png").read_bytes().startswith(b"\x89PNG")
    assert "p50 vs create-drop" in result.stdout
    assert "-n 2 over -n 0:" in result.stdout


def test_bad_flag_is_an_argparse_error() -> None:
    result = subprocess.run(
        [sys.executable, str(COMPARE), "--workers", "many"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert "argument --workers: invalid choice: 'many'" in result.stderr
