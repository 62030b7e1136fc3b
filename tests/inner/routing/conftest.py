"""Fixtures as suites write them before they adopt pytest-uow: tables created for the session
and dropped after it, and created and dropped around single tests."""

import pytest
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
