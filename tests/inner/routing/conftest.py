"""Fixtures as suites write them before they adopt pytest-uow: tables created for the session
and dropped after it, and created and dropped around single tests."""

import pytest
from sqlalchemy.orm import Session
from webapp import Base, engine


@pytest.fixture(scope="session", autouse=True)
def tables():
    Base.metadata.create_all(engine)
    yield
    Base.metadata.drop_all(engine)


@pytest.fixture
def fresh_tables():
    Base.metadata.create_all(engine)
    yield
    Base.metadata.drop_all(engine)


@pytest.fixture(scope="session")
def shared_session():
    """One session for the whole run, as some templates write it."""
    with Session(engine) as session:
        yield session
