"""pytest-uow: isolated, parallel PostgreSQL tests for SQLAlchemy Unit-of-Work applications.

The public names are imported when first used, not with the package: the pytest11 entry point
(``pytest_uow.plugin``) imports this package in every pytest run of the environment, and must
do so without importing SQLAlchemy-dependent modules where SQLAlchemy is too old for them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_uow.aio.engines import async_engine_args
    from pytest_uow.binding import Binding
    from pytest_uow.errors import DatabaseSetupError, ServerError, UowError, UowWarning
    from pytest_uow.isolation.registry import ISOLATIONS
    from pytest_uow.server.run import throwaway_server
    from pytest_uow.settings.options import ENVIRONMENT_VARIABLES
    from pytest_uow.strategies.base import ResetStrategy, ResetTarget
    from pytest_uow.strategies.registry import STRATEGIES

# The version is pyproject.toml's, read from the installed distribution: one place.
__version__ = importlib.metadata.version("pytest-uow")

_WHERE = {
    "ENVIRONMENT_VARIABLES": "pytest_uow.settings.options",
    "ISOLATIONS": "pytest_uow.isolation.registry",
    "STRATEGIES": "pytest_uow.strategies.registry",
    "Binding": "pytest_uow.binding",
    "DatabaseSetupError": "pytest_uow.errors",
    "ResetStrategy": "pytest_uow.strategies.base",
    "ResetTarget": "pytest_uow.strategies.base",
    "ServerError": "pytest_uow.errors",
    "UowError": "pytest_uow.errors",
    "UowWarning": "pytest_uow.errors",
    "async_engine_args": "pytest_uow.aio.engines",
    "throwaway_server": "pytest_uow.server.run",
}

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "ISOLATIONS",
    "STRATEGIES",
    "Binding",
    "DatabaseSetupError",
    "ResetStrategy",
    "ResetTarget",
    "ServerError",
    "UowError",
    "UowWarning",
    "__version__",
    "async_engine_args",
    "throwaway_server",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'pytest_uow' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
