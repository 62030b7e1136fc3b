"""Database URLs as people paste them: ``postgres://`` (Heroku, Render, many a DATABASE_URL) is
PostgreSQL too; a URL without a driver means psycopg2; an async driver's URL serves the plugin's
own work through its sync counterpart; psycopg 3 only where SQLAlchemy has it."""

from __future__ import annotations

import pytest

from pytest_uow import compat
from pytest_uow.settings.resolve import parse_url, url_async_driver


@pytest.mark.parametrize(
    ("given", "used"),
    [
        (
            "postgres://app:secret@db.example:5432/shop",
            "postgresql+psycopg2://app:***@db.example:5432/shop",
        ),
        pytest.param(
            "postgres+psycopg://app@db/shop",
            "postgresql+psycopg://app@db/shop",
            marks=pytest.mark.skipif(
                not compat.SQLALCHEMY_2, reason="psycopg 3 needs SQLAlchemy 2"
            ),
        ),
        ("postgres+asyncpg://app@db/shop", "postgresql+psycopg2://app@db/shop"),
        ("postgresql://app@db/shop", "postgresql+psycopg2://app@db/shop"),
    ],
)
def test_urls_as_people_paste_them(given: str, used: str) -> None:
    assert parse_url(given).render_as_string(hide_password=True) == used


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://app@db/shop", None),
        ("postgres+asyncpg://app@db/shop", "asyncpg"),
        ("postgresql+psycopg_async://app@db/shop", "psycopg"),
        ("postgresql+psycopg2://app@db/shop", None),
    ],
)
def test_the_async_driver_a_url_names_is_read_before_the_url_is_normalised(
    given: str, driver: str | None
) -> None:
    """``postgres://`` with ``uow_sessionmakers`` ended in an INTERNALERROR: the async driver
    was looked up through a dialect SQLAlchemy does not have."""
    assert url_async_driver(given) == driver
