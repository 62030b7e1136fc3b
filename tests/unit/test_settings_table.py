"""The settings are one table (``options.SPECS``): the resolved ``Settings`` has a field for
each, the header shows each by its label, and the site's settings reference is generated from
it (``docs/hooks.py``)."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from pytest_uow.settings.options import SPECS, readme_table
from pytest_uow.settings.resolve import Settings

DOCS = Path(__file__).parents[2] / "docs"


def test_every_setting_has_a_field_and_its_display() -> None:
    fields = {field.name for field in dataclasses.fields(Settings)}
    for spec in SPECS:
        assert spec.field in fields, spec.ini
        assert all((spec.label, spec.title, spec.default)), spec.ini
    assert len({spec.label for spec in SPECS}) == len(SPECS)
    assert len({spec.env for spec in SPECS}) == len(SPECS)


def test_the_settings_reference_is_generated_from_the_specs() -> None:
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = (DOCS / "reference" / "settings.md").read_text()

    rendered = hooks.on_page_markdown(page)

    assert hooks.SETTINGS_MARK in page
    assert readme_table() in rendered
    assert hooks.SETTINGS_MARK not in rendered
