"""The settings are one table (``options.SPECS``): the resolved ``Settings`` has a field for
each, and the header shows each by its label (the site's reference is generated from it:
``test_reference.py``)."""

from __future__ import annotations

import dataclasses

from pytest_uow.settings.options import SPECS
from pytest_uow.settings.resolve import Settings


def test_every_setting_has_a_field_and_its_display() -> None:
    fields = {field.name for field in dataclasses.fields(Settings)}
    for spec in SPECS:
        assert spec.field in fields, spec.ini
        assert all((spec.label, spec.title, spec.default)), spec.ini
    assert len({spec.label for spec in SPECS}) == len(SPECS)
    assert len({spec.env for spec in SPECS}) == len(SPECS)
