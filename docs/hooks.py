"""mkdocs hooks: what the site shows that is generated, so that it cannot drift.

- The settings table comes from ``pytest_uow.settings.options.SPECS``, the table the plugin
  itself reads (command line, environment, ini, default).
- The benchmark chart is taken from ``benchmarks/results/``, where ``compare.py`` writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

SETTINGS_MARK = (
    "<!-- uow:settings-table: generated from pytest_uow.settings.options.SPECS (docs/hooks.py) -->"
)
ROOT = Path(__file__).parent.parent
CHART = "benchmarks/results/compare.png"


def settings_table() -> str:
    from pytest_uow.settings.options import readme_table

    return readme_table()


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if SETTINGS_MARK in markdown:
        return markdown.replace(SETTINGS_MARK, settings_table())
    return markdown


def on_files(files: Files, config: Any) -> Files:
    files.append(
        File(CHART, src_dir=str(ROOT), dest_dir=config["site_dir"], use_directory_urls=False)
    )
    return files
