import logging

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

held: list[Connection] = []


@pytest.mark.uow(strategy="truncate")
def test_1_leaves_a_connection_holding_a_lock(uow_engine):
    connection = uow_engine.connect()
    connection.execute(text("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE"))
    held.append(connection)


def test_2_gives_it_back_to_its_pool_quietly(caplog):
    # Its backend was ended by the reset after test 1: the pool must not reset it.
    with caplog.at_level(logging.ERROR, logger="sqlalchemy.pool"):
        held.pop().close()
    assert "Exception during reset" not in caplog.text
