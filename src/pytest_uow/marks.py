"""The marks by which pytest-uow knows its own namespaces, and never touches anyone else's.

Every worker namespace (schema or database) carries a comment naming the run and worker that own
it. The reaper drops only namespaces marked as owned whose owner is gone; a kept namespace is
marked as the user's; the leak detector skips schemas of other workers and runs by the same
marks. A template database is marked with the project's prefix and the run that built it.
"""

from __future__ import annotations

import re

OWNED = "pytest-uow run={run} worker={worker}"
KEPT = "pytest-uow kept: run={run} worker={worker}"
KEPT_FAILED = "pytest-uow kept: run={run} worker={worker} failed={failed}"
OWNED_PATTERN = "pytest-uow run=%"
KEPT_PATTERN = "pytest-uow kept: %"
ANY_MARK_PATTERN = "pytest-uow%"  # owned or kept: a worker namespace of some run
_KEPT = re.compile(r"pytest-uow kept: run=(\S+) worker=(\S+)(?: failed=(\d+))?")
_OWNED = re.compile(r"pytest-uow run=(\S+) worker=(\S+)")


def mark(template: str, run_id: str, worker: str, failed: int = 0) -> str:
    """``template`` (``OWNED``, ``KEPT`` or ``KEPT_FAILED``) filled in for one worker of one
    run (and the number of the failed test whose rows it keeps)."""
    return template.format(run=run_id, worker=worker, failed=failed)


def kept_here(name: str, comment: str | None, prefix: str, worker: str | None) -> bool:
    """Whether namespace ``name``, whose comment is ``comment``, was kept by a run of the
    project whose prefix is ``prefix`` (by its worker ``worker``, if given)."""
    match = _KEPT.fullmatch(comment or "")
    if match is None:
        return False
    run, kept_worker, failed = match.groups()
    kept_name = f"{prefix}_{run}_{kept_worker}" + (f"_f{failed}" if failed else "")
    return name == kept_name and worker in (None, kept_worker)


def owned_here(name: str, comment: str | None) -> bool:
    """Whether namespace ``name``, whose comment is ``comment``, is what its mark says: a
    worker's of that run (``<prefix>_<run>_<worker>``, or a template being built,
    ``<prefix>_tpb_<run>_<worker>``). A name the mark does not explain is never reaped."""
    match = _OWNED.fullmatch(comment or "")
    if match is None:
        return False
    run, worker = match.groups()
    return name.endswith(f"_{run}_{worker}")


def template_mark(prefix: str, run_id: str) -> str:
    """The comment of a template database of the project whose prefix is ``prefix``."""
    return f"pytest-uow template prefix={prefix} run={run_id}"
