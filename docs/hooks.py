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
EACH_SETTING_MARK = (
    "<!-- uow:each-setting: generated from pytest_uow.settings.options.SPECS (docs/hooks.py) -->"
)
# An example value of each setting, as pyproject.toml gives it. A setting added to SPECS without
# one here stops the site's build (``each_setting``), so the reference cannot leave it out.
EXAMPLES = {
    "uow_database_url": '"postgresql://app@localhost:5432/app"',
    "uow_metadata": '"myapp.orm:metadata"',
    "uow_isolation": '"database"',
    "uow_strategy": '"truncate"',
    "uow_strategies": '["tests/e2e/* = truncate", "*::test_migrates_* = recreate"]',
    "uow_keep": "true",
    "uow_keep_failed": "true",
    "uow_drop_kept": "true",
    "uow_schema_prefix": '"myapp"',
    "uow_lock_timeout": '"30"',
    "uow_sessionmakers": '["myapp.db:Session", "myapp.db:get_session"]',
    "uow_pg_bindir": '"/usr/lib/postgresql/16/bin"',
    "uow_check_leaks": "true",
    "uow_rebuild": "true",
    "uow_seed": '"myapp.testing:seed"',
    "uow_alembic": '"alembic.ini"',
    "uow_check_migrations": "true",
    "uow_live_app": '"myapp:create_app"',
}
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


def each_setting() -> str:
    """A section per setting: what it does, the values it allows, its default, an example."""
    from pytest_uow.isolation.registry import ISOLATIONS
    from pytest_uow.settings.options import SPECS
    from pytest_uow.strategies.registry import STRATEGIES

    choices = {"uow_isolation": list(ISOLATIONS), "uow_strategy": list(STRATEGIES)}
    sections = []
    for spec in SPECS:
        if spec.ini not in EXAMPLES:
            raise ValueError(f"docs/hooks.py: no example for {spec.ini}; add one to EXAMPLES")
        if spec.ini in choices:
            allowed = ", ".join(f"`{choice}`" for choice in choices[spec.ini])
        elif spec.is_yes_no:
            allowed = "yes or no: `true`, `1`, `yes`, `on`, or `false`, `0`, `no`, `off`"
        elif spec.ini == "uow_strategies":
            allowed = "lines `pattern = strategy`, the pattern matched against node ids"
        elif spec.ini_type == "linelist":
            allowed = "a list (lines in the ini, comma-separated in the environment)"
        else:
            allowed = f"`{spec.cli.get('metavar', 'TEXT')}`"
        sections.append(
            f"### {spec.title}\n\n{spec.help[0].upper()}{spec.help[1:]}.\n\n"
            f"- allowed: {allowed}\n- default: {spec.default}\n"
            f"- ini `{spec.ini}`, environment `{spec.env}`"
            + (f", command line `{spec.flag}`" if spec.option is not None else "")
            + f"\n\n```toml\n{spec.ini} = {EXAMPLES[spec.ini]}\n```\n"
        )
    return "\n".join(sections)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if EACH_SETTING_MARK in markdown:
        markdown = markdown.replace(EACH_SETTING_MARK, each_setting())
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
