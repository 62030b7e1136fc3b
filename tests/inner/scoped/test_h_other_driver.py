"""A module-scoped user written through an application engine of psycopg (3), beside the
plugin's psycopg2: the router's connection for that driver keeps it for the module too."""

import pytest
import sqlalchemy

if sqlalchemy.__version__.startswith("1."):
    pytest.skip("SQLAlchemy 1.4 has no psycopg (3) dialect", allow_module_level=True)

from sqlalchemy import text
from warehouse import other_driver_engine

engine = other_driver_engine()


def emails():
    with engine.connect() as connection:
        return connection.execute(text("SELECT email FROM users ORDER BY email")).scalars().all()


@pytest.fixture(scope="module")
def psycopg_user():
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (email) VALUES ('p@example.com')"))
    return "p@example.com"


def test_h1_sees_it_and_adds_one(psycopg_user):
    assert emails() == ["p@example.com"]
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (email) VALUES ('h1@example.com')"))
    assert emails() == ["h1@example.com", "p@example.com"]


def test_h2_sees_it_without_h1s(psycopg_user):
    assert emails() == ["p@example.com"]
