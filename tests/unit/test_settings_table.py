"""The settings are one table (``options.SPECS``): the resolved ``Settings`` has a field for
each, the header shows each by its label, and README's table is generated from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pytest_uow.settings.options import SPECS, readme_table
from pytest_uow.settings.resolve import Settings

README = Path(__file__).parents[2] / "README.md"


def test_every_setting_has_a_field_and_its_display() -> None:
    fields = {field.name for field in dataclasses.fields(Settings)}
    for spec in SPECS:
        assert spec.field in fields, spec.ini
        assert all((spec.label, spec.title, spec.default)), spec.ini
    assert len({spec.label for spec in SPECS}) == len(SPECS)
    assert len({spec.env for spec in SPECS}) == len(SPECS)


def test_readme_shows_the_table_generated_from_the_specs() -> None:
    assert readme_table() in README.read_text()
