"""``truncate`` and ``recreate``: real commits, seen by other connections, threads and child
processes; afterwards the worker namespace is returned to its baseline."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from pytest_uow.binding import Binding
from pytest_uow.strategies.base import ResetTarget


@contextmanager
def _real_commits(target: ResetTarget) -> Iterator[Binding]:
    """Sessions on the worker engine: commits are visible to every other connection.

    Identity columns start at their first value: after tests of other strategies, which leave
    no rows but may have advanced sequences, the namespace is returned to its baseline first.
    """
    target.ensure_baseline()
    with target.engine.connect() as connection:
        binding = Binding(connection, target.engine, bind_for=target.engine_like)
        try:
            yield binding
        finally:
            binding.close_sessions()


class _RealCommitsStrategy(abc.ABC):
    """Real commits during the test; each subclass says how the namespace is reset after."""

    name: ClassVar[str]
    undoes_every_connection: ClassVar[bool] = True
    rebuilds_namespace: ClassVar[bool] = False

    @contextmanager
    def isolate(self, target: ResetTarget) -> Iterator[Binding]:
        with _real_commits(target) as binding:
            yield binding
        self.reset(target)

    @abc.abstractmethod
    def reset(self, target: ResetTarget) -> None:
        """Return the namespace to its baseline after the test."""


class TruncateStrategy(_RealCommitsStrategy):
    """Afterwards the tables that hold rows are emptied (see ``cleaning.py``)."""

    name: ClassVar[str] = "truncate"

    def reset(self, target: ResetTarget) -> None:
        target.empty()


class RecreateStrategy(_RealCommitsStrategy):
    """Afterwards the worker namespace is dropped and built again."""

    name: ClassVar[str] = "recreate"
    rebuilds_namespace: ClassVar[bool] = True

    def reset(self, target: ResetTarget) -> None:
        target.rebuild()
