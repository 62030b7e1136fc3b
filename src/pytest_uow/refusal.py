"""What the plugin does where the installed SQLAlchemy is one it cannot serve: a project that
set any setting is stopped with one line saying what to install; any other runs as if the plugin
were not installed (its fixtures, if a test asks for one, fail with that same line)."""

from __future__ import annotations

import pytest

from pytest_uow.versions import unsupported_sqlalchemy


def supported(configured_by: list[str]) -> bool:
    """Whether to load the plugin; raises the usage error where the project configured it on
    a SQLAlchemy it cannot serve."""
    problem = unsupported_sqlalchemy()
    if problem is None:
        return True
    if configured_by:
        raise pytest.UsageError(f"{problem} (configured by {', '.join(configured_by)})")
    return False
