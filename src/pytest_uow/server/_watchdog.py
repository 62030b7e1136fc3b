"""Keeps a throwaway PostgreSQL alive exactly as long as the pytest run that owns it.

Run as a script (``python -I -S _watchdog.py '<json>'``), standard library only, in a session of
its own so that it outlives the pytest-xdist worker that happened to start it. It starts
``postgres``, reports ``ready`` (or the server log on failure) on stdout, then waits for one of:
the owning pytest process ends (even by ``kill -9``), SIGTERM from pytest's normal shutdown, or
the server exits. In every case it stops the server and removes its directory and the run's
state files, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
_READY_TIMEOUT = 60.0


def _die_with_parent() -> None:
    """Ask Linux to send SIGQUIT (immediate shutdown) to postgres if this watchdog dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


def _is_ready(data_dir: Path) -> bool:
    """Line 8 of ``postmaster.pid`` says ``ready`` once connections are accepted (pg_ctl -w)."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux 5.3+), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Immediate shutdown: nothing in a throwaway server is worth a checkpoint."""
    for sig, grace in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
        if server.poll() is not None:
            return
        server.send_signal(sig)
        try:
            server.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _remove(paths: list[str], tree: str) -> None:
    shutil.rmtree(tree, ignore_errors=True)
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def main(spec: dict[str, Any]) -> int:
    terminated = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal terminated
        terminated = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches pytest; pytest stops us
    server_dir = spec["server_dir"]
    data_dir = Path(spec["data_dir"])
    credentials: dict[str, Any] = {}
    if spec.get("uid") is not None:
        credentials = {"user": spec["uid"], "group": spec["gid"], "extra_groups": []}
    owner_fd = _pidfd(spec["owner_pid"])
    with open(Path(server_dir) / "postgres.log", "ab") as log:
        server = subprocess.Popen(
            spec["argv"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            **credentials,
        )
    deadline = time.monotonic() + _READY_TIMEOUT
    while not _is_ready(data_dir):
        if server.poll() is not None or time.monotonic() > deadline or terminated:
            _stop(server)
            log_text = (Path(server_dir) / "postgres.log").read_text(errors="replace")
            sys.stdout.write("failed\n" + log_text[-4000:])
            sys.stdout.flush()
            _remove(spec["remove"], server_dir)
            return 1
        time.sleep(0.005)
    sys.stdout.write(f"ready {server.pid}\n")
    sys.stdout.flush()
    os.close(1)  # the starter stops reading; never write there again

    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)  # SIGTERM wakes the poll below at once
    poller = select.poll()
    poller.register(wake_read, select.POLLIN)
    server_fd = _pidfd(server.pid)
    for fd in (owner_fd, server_fd):
        if fd is not None:
            poller.register(fd, select.POLLIN)
    tick_ms = None if owner_fd is not None and server_fd is not None else 500
    while not terminated and server.poll() is None:
        if owner_fd is None and not _alive(spec["owner_pid"]):
            break
        ready_fds = {fd for fd, _ in poller.poll(tick_ms)}
        if owner_fd in ready_fds:
            break  # the owning pytest process has ended
    _stop(server)
    _remove(spec["remove"], server_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
