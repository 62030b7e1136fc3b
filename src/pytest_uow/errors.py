"""Errors whose message says what went wrong and how to fix it.

Bad *settings* are reported as ``pytest.UsageError`` by ``config.py``; the errors here are the
ones that can only show up later, when the plugin talks to PostgreSQL or starts a server.
"""

from __future__ import annotations


class UowError(Exception):
    """Base class: every error pytest-uow raises on purpose."""


class ServerError(UowError):
    """The throwaway PostgreSQL server could not be found or started."""


class DatabaseSetupError(UowError):
    """The worker's database (connection, schema or tables) could not be prepared.

    Raised once per worker; every test that needs the database then fails with this one
    message instead of repeating a traceback.
    """


class UowWarning(UserWarning):
    """Something a test did that pytest-uow had to repair, such as a connection it left holding
    locks. Filter it like any warning: ``-W error::pytest_uow.UowWarning`` makes it an error."""


class SourceError(UowError):
    """The application's own code that builds the tables failed (a migration, the seed); the
    message is one line naming it and its error."""


class SeedError(SourceError):
    """``uow_seed`` raised while the baseline was being built."""
