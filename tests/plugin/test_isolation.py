"""Each test starts from empty tables, whatever the application committed, in parallel or not;
nothing is left behind and ``public`` is untouched."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PublicGuard, schemas_named

MODES = [pytest.param(["-n", "2"], id="xdist-2"), pytest.param(["-p", "no:xdist"], id="no-xdist")]


@pytest.mark.parametrize("mode", MODES)
def test_committed_rows_vanish_and_nothing_is_left(
    project: pytest.Pytester,
    outside: Engine,
    public_guard: PublicGuard,
    prefix: str,
    mode: list[str],
) -> None:
    project.copy_example("isolation/test_commits.py")
    before = public_guard.fingerprint()

    result = project.runpytest_subprocess(*mode, f"--uow-schema-prefix={prefix}")

    result.assert_outcomes(passed=16)
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before


def test_each_worker_has_its_own_schema_during_the_run(
    project: pytest.Pytester, outside: Engine, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    report_dir = project.mkdir("reports")
    monkeypatch.setenv("REPORT_DIR", str(report_dir))
    project.copy_example("isolation/test_report.py")

    result = project.runpytest_subprocess(
        "-n", "2", "-p", "no:randomly", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=6)
    reports = [json.loads(p.read_text()) for p in report_dir.iterdir()]
    schemas = {report["schema"] for report in reports}
    assert len(schemas) == 2
    runs = {
        re.fullmatch(rf"{prefix}_([0-9a-f]{{8}})_gw[01]", s).group(1)  # type: ignore[union-attr]
        for s in schemas
    }
    assert len(runs) == 1, "both workers belong to one run"
    assert all(f"search_path%3D{r['schema']}" in r["url"] for r in reports)
    assert schemas_named(outside, prefix) == []


def test_two_runs_at_once_do_not_collide(
    project: pytest.Pytester, outside: Engine, public_guard: PublicGuard, prefix: str
) -> None:
    project.copy_example("isolation/test_slow.py")
    before = public_guard.fingerprint()
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-n",
        "2",
        "-p",
        "no:randomly",
        f"--uow-schema-prefix={prefix}",
        "-q",
    ]
    # Two CI jobs sharing one server, each with two workers.
    runs = [
        subprocess.Popen(
            command, cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("6 passed" in output for output in outputs), outputs
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before
