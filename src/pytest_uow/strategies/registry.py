"""The one list of strategies: the command line's choices, the marker's valid values, the
strategies guide's table and ``benchmarks/compare.py`` all read it. Names and summaries are
known without importing the implementations (every pytest run reads them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_uow.loading import LazyRegistry

if TYPE_CHECKING:
    from pytest_uow.strategies.base import ResetStrategy

SUMMARIES = {
    "rollback": "one transaction per test, rolled back; fastest; one connection",
    "truncate": "real commits, seen by other connections; dirty tables emptied",
    "recreate": "real commits; schema dropped and rebuilt, for tests that alter it",
}


def _instance(strategy_class: Any) -> ResetStrategy:
    strategy: ResetStrategy = strategy_class()
    return strategy


STRATEGIES: Mapping[str, ResetStrategy] = LazyRegistry(
    {
        "rollback": "pytest_uow.strategies.rollback:RollbackStrategy",
        "truncate": "pytest_uow.strategies.real_commits:TruncateStrategy",
        "recreate": "pytest_uow.strategies.real_commits:RecreateStrategy",
    },
    _instance,
)
DEFAULT_STRATEGY = "rollback"

MARKER = "uow"
MARKER_HELP = (
    f"{MARKER}(strategy='rollback'): how this test's (class's, module's) writes are undone: "
    + "; ".join(f"{name}: {summary}" for name, summary in SUMMARIES.items())
)


def strategy_from_marker(args: tuple[object, ...], kwargs: Mapping[str, object]) -> str | None:
    """The strategy a ``@pytest.mark.uow(...)`` asks for; ValueError says what is wrong."""
    unknown = sorted(set(kwargs) - {"strategy"})
    if args or unknown:
        given = ", ".join([*map(repr, args), *unknown])
        raise ValueError(f"unexpected {given}; use @pytest.mark.uow(strategy=...)")
    strategy = kwargs.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    return None if strategy is None else str(strategy)
