"""The marks by which pytest-uow knows its own namespaces, and never touches anyone else's.

Every worker namespace carries a comment naming the run and worker that own it. The reaper drops
only namespaces marked as owned whose owner is gone; a kept namespace is marked as the user's;
the leak detector skips namespaces of other workers and runs by the same marks.
"""

from __future__ import annotations

OWNED = "pytest-uow run={run} worker={worker}"
KEPT = "pytest-uow kept: run={run} worker={worker}"
OWNED_PATTERN = "pytest-uow run=%"
ANY_MARK_PATTERN = "pytest-uow%"  # owned or kept: a worker namespace of some run


def mark(template: str, run_id: str, worker: str) -> str:
    """``template`` (``OWNED`` or ``KEPT``) filled in for one worker of one run."""
    return template.format(run=run_id, worker=worker)
