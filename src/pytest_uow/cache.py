"""Where pytest-uow keeps what outlives a run (initdb results, captured migrations): the user's
cache directory, ``$XDG_CACHE_HOME/pytest-uow`` or ``~/.cache/pytest-uow``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pytest-uow"
