"""mkdocs hooks: what the site shows that is generated, so that it cannot drift.

- The settings table and the command-line flags come from
  ``pytest_uow.settings.options.SPECS``, the table the plugin itself reads (command line,
  environment, ini, default, help).
- The benchmark chart is taken from ``benchmarks/results/``, where ``compare.py`` writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

SETTINGS_MARK = (
    "<!-- uow:settings-table: generated from pytest_uow.settings.options.SPECS (docs/hooks.py) -->"
)
FLAGS_MARK = (
    "<!-- uow:flags-table: generated from pytest_uow.settings.options.SPECS (docs/hooks.py) -->"
)
ROOT = Path(__file__).parent.parent
CHART = "benchmarks/results/compare.png"


def settings_table() -> str:
    from pytest_uow.settings.options import readme_table

    return readme_table()


def flags_table() -> str:
    """Every command-line flag with its help, as ``pytest --help`` gives it."""
    from pytest_uow.settings.options import SPECS

    rows = ["| flag | what it does | environment | ini |", "|---|---|---|---|"]
    for spec in SPECS:
        if spec.option is None:
            continue
        flag = f"`{spec.flag}`"
        if spec.is_yes_no:
            flag += f" / `--no-{spec.flag[2:]}`"
        elif "metavar" in spec.cli:
            flag = f"`{spec.flag} {spec.cli['metavar']}`"
        rows.append(f"| {flag} | {spec.help} | `{spec.env}` | `{spec.ini}` |")
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if SETTINGS_MARK in markdown:
        markdown = markdown.replace(SETTINGS_MARK, settings_table())
    if FLAGS_MARK in markdown:
        markdown = markdown.replace(FLAGS_MARK, flags_table())
    return markdown


def on_files(files: Files, config: Any) -> Files:
    files.append(
        File(CHART, src_dir=str(ROOT), dest_dir=config["site_dir"], use_directory_urls=False)
    )
    return files
