"""examples/allocation, the Cosmic Python showcase, run the way its developers would run it:
its whole test pyramid passes in random order under -n 0 and -n 2, and leaves
nothing behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PublicGuard, schemas_named

EXAMPLE = Path(__file__).parent.parent / "examples" / "allocation"


# -n auto is -n 2 on the 2-core machines this runs on: the two modes are enough.
@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["n0", "n2"])
def test_example_suite_passes_and_leaves_nothing(
    server_url: str, outside: Engine, public_guard: PublicGuard, prefix: str, mode: list[str]
) -> None:
    before = public_guard.fingerprint()
    env = dict(os.environ, UOW_DATABASE_URL=server_url)
    command = [
        sys.executable,
        "-m",
        "pytest",
        *mode,
        "-p",
        "no:cacheprovider",
        f"--uow-schema-prefix={prefix}",
    ]

    result = subprocess.run(
        command, cwd=EXAMPLE, env=env, capture_output=True, text=True, check=False, timeout=600
    )

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b22 passed\b", result.stdout), result.stdout[-2000:]
    assert "Using --randomly-seed=" in result.stdout, "the order is shuffled"
    assert "uow: reset truncate: 4 tests" in result.stdout
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before
