import pytest
from sqlalchemy import text


@pytest.mark.uow(strategy="truncate")
def test_1_marker_and_engine_only(uow_engine):
    with uow_engine.begin() as connection:
        connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('e', 1)"))


def test_2_starts_empty(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
