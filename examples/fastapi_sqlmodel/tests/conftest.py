"""The fixtures the full-stack FastAPI template's suite has, minus its database clean-up: with
pytest-uow the app's commits vanish after each test, so nothing deletes rows by hand."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from users_app.db import engine
from users_app.main import app


# --8<-- [start:fixtures]
@pytest.fixture(scope="session")
def db() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


# --8<-- [end:fixtures]
