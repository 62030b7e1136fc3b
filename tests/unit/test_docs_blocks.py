"""Every code block of the documentation site is accounted for: included from a file the test
suite runs (``--8<--``), marked as not run (another tool's code, the code a page replaces), a
sample of output (``text``), a diagram (``mermaid``), or checked here against what the plugin
really accepts:

- a TOML block parses, and every ``uow_*`` key it sets is a setting of ``options.SPECS``, with
  a value the setting allows where it has choices;
- a shell block's ``--uow-*`` flags are the plugin's own, and the extras it installs exist;
- a Python block compiles.

Pure logic: no database, no pytest run."""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.settings.options import SPECS
from pytest_uow.strategies.registry import STRATEGIES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
NOT_RUN = re.compile(r"<!-- not run: [^>]+ -->\s*$")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
CHOICES = {"uow_strategy": set(STRATEGIES), "uow_isolation": set(ISOLATIONS)}
FLAGS = {spec.flag for spec in SPECS if spec.option is not None} | {
    f"--no-{spec.flag[2:]}" for spec in SPECS if spec.is_yes_no
}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    code: str
    marked_not_run: bool

    @property
    def included(self) -> bool:
        return self.code.lstrip().startswith("--8<--")

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.language or 'no language'})"


def _blocks() -> list[Block]:
    blocks = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text()
        for match in FENCE.finditer(text):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            blocks.append(
                Block(
                    str(path.relative_to(DOCS)),
                    text.count("\n", 0, match.start()) + 1,
                    match.group(1),
                    match.group(2),
                    bool(NOT_RUN.match(before)),
                )
            )
    return blocks


BLOCKS = _blocks()


def _checked(language: str) -> list[Block]:
    return [b for b in BLOCKS if b.language == language and not (b.included or b.marked_not_run)]


def test_every_block_is_included_checked_output_or_marked() -> None:
    unaccounted = [
        str(block)
        for block in BLOCKS
        if not (block.included or block.marked_not_run)
        and block.language not in {"toml", "sh", "python", "text", "mermaid"}
    ]
    assert unaccounted == []


@pytest.mark.parametrize("block", _checked("toml"), ids=str)
def test_a_toml_block_sets_only_real_settings_to_allowed_values(block: Block) -> None:
    document = tomllib.loads(block.code)
    # A whole pyproject.toml's settings, or the lines of one (no table header).
    options = {**document, **document.get("tool", {}).get("pytest", {}).get("ini_options", {})}
    known = {spec.ini for spec in SPECS}
    for key, value in options.items():
        if key.startswith("uow_"):
            assert key in known, f"{block}: {key} is no setting"
            if key in CHOICES:
                assert value in CHOICES[key], f"{block}: {key} = {value!r}"
            if key == "uow_strategies":
                for line in value:
                    assert line.split("=")[-1].strip() in STRATEGIES, f"{block}: {line}"


@pytest.mark.parametrize("block", _checked("sh"), ids=str)
def test_a_shell_block_uses_real_flags_and_extras(block: Block) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = set(pyproject["project"]["optional-dependencies"])
    for line in block.code.splitlines():
        command = line.split("#", 1)[0].strip()
        if not command:
            continue
        for word in shlex.split(command):
            flag = word.split("=", 1)[0]
            if flag.startswith("--uow-") or flag.startswith("--no-uow-"):
                assert flag in FLAGS, f"{block}: {flag} is no flag of the plugin"
            extra = re.fullmatch(r"\.\[([\w,-]+)\]", word)
            if extra:
                assert set(extra.group(1).split(",")) <= extras, f"{block}: {word}"


@pytest.mark.parametrize("block", _checked("python"), ids=str)
def test_a_python_block_compiles(block: Block) -> None:
    compile(block.code, str(block), "exec")


def test_the_checks_see_the_blocks() -> None:
    assert len(BLOCKS) > 30
    assert _checked("toml")
    assert sum(block.included for block in BLOCKS) > 20
