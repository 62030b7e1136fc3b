"""The registries are the one list of strategies and isolation modes: what users see (options,
marker help, the strategies guide) follows them. Pure logic, no database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pytest_uow
from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.sessions.registry import adapter_for
from pytest_uow.strategies.registry import MARKER_HELP, SUMMARIES

STRATEGIES_GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "strategies.md"


def _table_first_column(page: Path) -> list[str]:
    rows = [
        line
        for line in page.read_text().split("\n## ", 1)[0].splitlines()
        if line.startswith("| `")
    ]
    first = [re.match(r"\| `(\w+)`", row) for row in rows]
    return [match.group(1) for match in first if match]


def test_the_guide_lists_exactly_the_registered_strategies_in_order() -> None:
    assert _table_first_column(STRATEGIES_GUIDE) == list(pytest_uow.STRATEGIES)


def test_marker_help_describes_every_registered_strategy() -> None:
    for name in pytest_uow.STRATEGIES:
        assert f"{name}: {SUMMARIES[name]}" in MARKER_HELP


def test_the_default_isolation_mode_is_registered() -> None:
    assert "schema" in ISOLATIONS


def test_an_object_of_no_known_kind_is_refused_naming_what_is_accepted() -> None:
    with pytest.raises(
        ValueError,
        match=r"^app:engine is a dict; expected a sessionmaker, scoped_session, async_",
    ):
        adapter_for("app:engine", {})
