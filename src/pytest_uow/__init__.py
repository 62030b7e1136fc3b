"""pytest-uow: isolated, parallel PostgreSQL tests for SQLAlchemy Unit-of-Work applications."""

from __future__ import annotations

from pytest_uow.errors import DatabaseSetupError, ServerError, UowError, UowWarning
from pytest_uow.strategies import STRATEGIES, Binding, ResetStrategy

__version__ = "0.1.0"

__all__ = [
    "STRATEGIES",
    "Binding",
    "DatabaseSetupError",
    "ResetStrategy",
    "ServerError",
    "UowError",
    "UowWarning",
    "__version__",
]
