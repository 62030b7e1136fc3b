"""The marks by which the reaper knows a namespace as a worker's: the comment, and a name that
matches it."""

from __future__ import annotations

import pytest

from pytest_uow.marks import OWNED, mark, owned_here


@pytest.mark.parametrize(
    "name",
    ["uow_1a2b3c4d_gw0", "proj_x_1a2b3c4d_gw0", "uow_tpb_1a2b3c4d_gw0", "uow_1a2b3c4d_chk"],
)
def test_a_namespace_named_as_its_mark_says_is_owned(name: str) -> None:
    worker = name.rpartition("_")[2]
    assert owned_here(name, mark(OWNED, "1a2b3c4d", worker))


@pytest.mark.parametrize(
    ("name", "comment"),
    [
        # A template while it is renamed: a worker's mark on a template's name.
        ("uow_tpl_00112233aabbccdd", "pytest-uow run=1a2b3c4d worker=gw0"),
        ("uow_1a2b3c4d_gw1", "pytest-uow run=1a2b3c4d worker=gw0"),
        ("uow_1a2b3c4d_gw0", "pytest-uow kept: run=1a2b3c4d worker=gw0"),
        ("uow_1a2b3c4d_gw0", None),
        ("uow_1a2b3c4d_gw0", "pytest-uow run=1a2b3c4d worker=gw0 and more"),
    ],
)
def test_a_name_the_mark_does_not_explain_is_not_owned(name: str, comment: str | None) -> None:
    assert not owned_here(name, comment)
