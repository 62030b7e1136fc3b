"""An ``Engine`` or ``AsyncEngine`` named in ``uow_sessionmakers``: routed to the test whatever
database its URL names, from the first test on.

Every engine on the configured database joins the test without being named (``routing``); naming
one matters where its URL names another database (an app whose settings point at its own
database while the tests run on another server), and it says the engine should be reached.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from pytest_uow.binding import Binding
from pytest_uow.routing import adopt
from pytest_uow.sessions.base import Restore, note_reached


def is_engine(target: object) -> bool:
    return isinstance(target, (Engine, AsyncEngine))


class EngineAdapter:
    """The engine's dialect is adopted by the router (``routing.adopt``): its connections go
    where the test's go, and, under ``rollback``, share the test's transaction."""

    def __init__(self, spec: str, engine: Engine | AsyncEngine) -> None:
        self.spec = spec
        self._engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        self._in_a_test = False
        event.listen(self._engine, "engine_connect", self._connected)

    def _connected(self, *args: Any) -> None:
        if self._in_a_test:
            note_reached(self.spec)

    def rebind(self, binding: Binding) -> Restore:
        adopt(self._engine.dialect)
        self._in_a_test = True

        def restore() -> None:
            self._in_a_test = False

        return restore
