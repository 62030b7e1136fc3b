"""pytest-uow: isolated, parallel PostgreSQL tests for SQLAlchemy Unit-of-Work applications."""

from __future__ import annotations

from pytest_uow.binding import Binding
from pytest_uow.config import ENVIRONMENT_VARIABLES
from pytest_uow.errors import DatabaseSetupError, ServerError, UowError, UowWarning
from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.loops import async_engine_args
from pytest_uow.server import throwaway_server
from pytest_uow.strategies.base import ResetStrategy, ResetTarget
from pytest_uow.strategies.registry import STRATEGIES

__version__ = "0.1.0"

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
