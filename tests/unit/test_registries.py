"""The registries are the one list of strategies and isolation modes: what users see (options,
marker help, README) follows them. Pure logic, no database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pytest_uow
from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.sessions.registry import adapter_for
from pytest_uow.strategies.registry import MARKER_HELP, SUMMARIES

README = Path(__file__).parents[2] / "README.md"


def _readme_table_first_column(heading: str) -> list[str]:
    section = README.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    first = [re.match(r"\| `(\w+)`", row) for row in rows]
    return [match.group(1) for match in first if match]


def test_the_readme_lists_exactly_the_registered_strategies_in_order() -> None:
    assert _readme_table_first_column("Strategies") == list(pytest_uow.STRATEGIES)


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
