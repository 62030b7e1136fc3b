"""What the plugin is where the installed SQLAlchemy is one it cannot serve: the options, so
that a project's settings are recognised, and one line for a project that uses any of them.
A project that does not is left alone: its pytest runs as if the plugin were not installed."""

from __future__ import annotations

import os

import pytest

from pytest_uow.compat import unsupported_sqlalchemy
from pytest_uow.options import SPECS, add_options


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser, {})


def pytest_configure(config: pytest.Config) -> None:
    where = [spec.env for spec in SPECS if spec.env in os.environ]
    where += [
        spec.flag
        for spec in SPECS
        if spec.option is not None and config.getoption(spec.option) is not None
    ]
    where += [spec.ini for spec in SPECS if config.getini(spec.ini) not in (None, [])]
    if where:
        raise pytest.UsageError(f"{unsupported_sqlalchemy()} (configured by {', '.join(where)})")
