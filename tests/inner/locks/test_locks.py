from typing import Any

import pytest
from app import batches
from sqlalchemy import create_engine

LEFT_OPEN: list[Any] = []


def test_1_leaves_a_row_uncommitted(uow_database_url):
    engine = create_engine(uow_database_url)
    connection = engine.connect()
    connection.execute(batches.insert().values(reference="same", qty=1))
    LEFT_OPEN.append(connection)  # never committed, never closed: its row stays locked


def test_2_inserts_the_same_row(uow_session):
    uow_session.execute(batches.insert().values(reference="same", qty=2))
    uow_session.commit()


def test_3_goes_on(uow_session):
    uow_session.execute(batches.insert().values(reference="other", qty=3))
    uow_session.commit()


@pytest.fixture(scope="session", autouse=True)
def _close_at_the_end():
    yield
    for connection in LEFT_OPEN:
        connection.close()
