import pytest
from sqlalchemy import text

LEFT_OPEN: list[object] = []


@pytest.mark.uow(strategy="recreate")
def test_1_leaves_a_connection_open(uow_engine, uow_session):
    connection = uow_engine.connect()
    connection.execute(text("SELECT 1"))
    LEFT_OPEN.append(connection)


def test_2_starts_afresh(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
