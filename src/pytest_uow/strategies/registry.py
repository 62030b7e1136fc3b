"""The one list of strategies: the command line's choices, the marker's valid values, the
README's table and ``benchmarks/compare.py`` all read it."""

from __future__ import annotations

from collections.abc import Mapping

from pytest_uow.strategies.base import ResetStrategy
from pytest_uow.strategies.real_commits import RecreateStrategy, TruncateStrategy
from pytest_uow.strategies.rollback import RollbackStrategy

STRATEGIES: Mapping[str, ResetStrategy] = {
    strategy.name: strategy
    for strategy in (RollbackStrategy(), TruncateStrategy(), RecreateStrategy())
}
DEFAULT_STRATEGY = RollbackStrategy.name

MARKER = "uow"
MARKER_HELP = (
    f"{MARKER}(strategy='rollback'): how this test's (class's, module's) writes are undone: "
    + "; ".join(f"{name}: {strategy.summary}" for name, strategy in STRATEGIES.items())
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
