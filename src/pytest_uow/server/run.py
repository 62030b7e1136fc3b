"""The throwaway PostgreSQL: one server per run, started by the first process that needs it.

Whichever process of a run first needs the server starts it (under a per-run file lock) and
records it in a per-run state file; the other workers read that file. The server runs under a
small watchdog (``_watchdog.py``) that watches the run's controller process, so the server and its
directory disappear with pytest even when pytest is killed. The controller stops it at the end.
Start-up is kept short by copying a cached ``initdb`` result instead of running ``initdb``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
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

from filelock import FileLock
from sqlalchemy.engine import URL, make_url

from pytest_uow.cache import cache_dir
from pytest_uow.errors import ServerError
from pytest_uow.server.binaries import (
    Account,
    Binaries,
    find_binaries,
    reachable_binaries,
    server_account,
)

SUPERUSER = "postgres"
PORT = 5432
_RAM_DIR = Path("/dev/shm")
_RAM_DIR_MIN_FREE = 512 * 1024 * 1024
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
    """The run's one throwaway server, as seen from any process of the run (a
    ``ServerAddress``)."""

    where = "the throwaway server"
    setting: str | None = None

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

    named_by_settings: URL | None = None  # no application names the throwaway server

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
