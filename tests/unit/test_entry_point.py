"""What every pytest run of the environment pays for the plugin: the entry point and what it
imports, which must not include SQLAlchemy; the registries' names without their modules; the
version gate; the one running test."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_uow.current import CurrentTest
from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.strategies.registry import MARKER_HELP, STRATEGIES, SUMMARIES
from pytest_uow.versions import unsupported_sqlalchemy, version_tuple


def test_the_entry_point_imports_no_sqlalchemy() -> None:
    """In a fresh interpreter: the entry point, its fixtures and its option table load without
    SQLAlchemy or the plugin's own heavy modules."""
    probe = (
        "import sys, pytest_uow.plugin\n"
        "outside = ('sqlalchemy', 'filelock', 'pytest_asyncio')\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in outside\n"
        "         or m in ('pytest_uow.hooks', 'pytest_uow.reset', 'pytest_uow.state')]\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_registries_name_their_entries_before_importing_them() -> None:
    assert list(STRATEGIES) == ["rollback", "truncate", "recreate"]
    assert list(ISOLATIONS) == ["schema", "database"]
    assert set(SUMMARIES) == set(STRATEGIES)
    assert "truncate: real commits" in MARKER_HELP
    assert "nope" not in STRATEGIES


def test_registry_entries_are_what_they_name() -> None:
    for name in STRATEGIES:
        assert STRATEGIES[name].name == name
    for name in ISOLATIONS:
        assert ISOLATIONS[name].name == name
    with pytest.raises(KeyError):
        STRATEGIES["nope"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.4.54", (1, 4, 54)), ("2.1.0b2", (2, 1, 0)), ("2.0", (2, 0)), ("1.3.24", (1, 3, 24))],
)
def test_version_tuple(text: str, expected: tuple[int, ...]) -> None:
    assert version_tuple(text) == expected


def test_the_version_gate() -> None:
    assert unsupported_sqlalchemy("1.4.49") is None
    assert unsupported_sqlalchemy("2.1.0") is None
    line = unsupported_sqlalchemy("1.3.24")
    assert line is not None
    assert "needs SQLAlchemy 1.4.49 or newer" in line
    assert "this environment has 1.3.24" in line


def test_current_test_is_set_and_cleared_once_and_tells_listeners() -> None:
    current = CurrentTest()
    heard: list[str | None] = []
    current.listen(heard.append)
    current.listen(heard.append)  # once only
    current.start("tests/test_a.py::test_one")
    assert current.nodeid == "tests/test_a.py::test_one"
    assert current.binding is None
    assert current.aio is None
    current.clear()
    current.stop_listening(heard.append)
    current.start("tests/test_a.py::test_two")
    assert heard == ["tests/test_a.py::test_one", None]
