"""The release tier: packaging, the CI recipes, whole examples, the book, the benchmarks. Not
in the default pass (``testpaths``); ``.ci/run`` runs it as a step of its own:
``pytest -n auto tests/release``."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(__file__.rpartition("/")[0]):
            item.add_marker(pytest.mark.release)
