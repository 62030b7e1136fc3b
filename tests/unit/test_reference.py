"""The site's reference covers what the plugin offers: every public fixture has a row in the
fixtures reference, and the settings table and the command-line flags are generated from the
same table the plugin registers them from (``docs/hooks.py``). Pure logic."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import pytest_uow.plugin
from pytest_uow.settings.options import SPECS, readme_table

DOCS = Path(__file__).parents[2] / "docs"


def _hooks() -> ModuleType:
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def test_every_public_fixture_has_a_row_in_the_fixtures_reference() -> None:
    page = (DOCS / "reference" / "fixtures.md").read_text()
    public = [name for name in pytest_uow.plugin.__all__ if name.startswith("uow_")]
    public.append("uow_async_connection")  # registered per run, for the loop's plugin

    missing = [name for name in public if f"| `{name}` |" not in page]

    assert missing == []


def test_the_flags_reference_gives_every_flag_the_plugin_registers() -> None:
    hooks = _hooks()
    page = (DOCS / "reference" / "command-line.md").read_text()

    rendered = hooks.on_page_markdown(page)

    assert hooks.FLAGS_MARK in page
    for spec in SPECS:
        if spec.option is not None:
            assert f"`{spec.flag}" in rendered, spec.flag
            assert spec.help in rendered


def test_the_settings_reference_is_generated_from_the_specs() -> None:
    hooks = _hooks()
    page = (DOCS / "reference" / "settings.md").read_text()

    rendered = hooks.on_page_markdown(page)

    assert hooks.SETTINGS_MARK in page
    assert readme_table() in rendered
    assert hooks.SETTINGS_MARK not in rendered


def test_the_api_reference_documents_every_public_name() -> None:
    import pytest_uow

    page = (DOCS / "reference" / "api.md").read_text()
    names = [name for name in pytest_uow.__all__ if name != "__version__"]

    missing = [
        name
        for name in names
        if not any(
            line.startswith("::: ") and line.endswith(f".{name}") for line in page.splitlines()
        )
    ]

    assert missing == []


_RAISED = {"UowWarning", "UowError", "ServerError", "UsageError", "DatabaseSetupError"}


def _literal_parts(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        ]
    if isinstance(node, ast.BinOp):
        return _literal_parts(node.left) + _literal_parts(node.right)
    return []


def _messages() -> list[tuple[str, str]]:
    """Each message the plugin raises or warns with, by where it is made: its longest fixed
    part (the rest is the names and values of the moment)."""
    found = []
    source = Path(pytest_uow.plugin.__file__).parent
    for path in sorted(source.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            parts = [part.strip() for part in _literal_parts(node.args[0])]
            parts = [part for part in parts if len(part) >= 15]
            if name in _RAISED and parts:
                where = f"{path.relative_to(source)}:{node.lineno}"
                found.append((where, max(parts, key=len)[:40]))
    return found


def test_the_messages_reference_quotes_every_message_the_plugin_raises_or_warns_with() -> None:
    page = (DOCS / "reference" / "messages.md").read_text().replace("`", "")
    messages = _messages()

    missing = [f"{where}: {fixed}" for where, fixed in messages if fixed not in page]

    assert len(messages) > 20
    assert missing == []


def test_each_setting_has_a_section_with_an_example_the_plugin_accepts() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and newer
    from pytest_uow.isolation.registry import ISOLATIONS
    from pytest_uow.strategies.registry import STRATEGIES

    hooks = _hooks()
    rendered = hooks.each_setting()
    examples = re.findall(r"```toml\n(.*?)```", rendered, re.DOTALL)

    assert len(examples) == len(SPECS)
    for spec, example in zip(SPECS, examples, strict=True):
        assert f"### {spec.title}\n" in rendered
        [(key, value)] = tomllib.loads(example).items()
        assert key == spec.ini
        if key == "uow_strategy":
            assert value in STRATEGIES
        if key == "uow_isolation":
            assert value in ISOLATIONS
        if spec.is_yes_no:
            assert value is True
