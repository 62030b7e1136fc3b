"""Failing tests whose reports say where their data was."""

import pytest
from sqlalchemy import text

INSERT = text("INSERT INTO batches (reference, qty) VALUES (:r, 1)")


def test_1_writes_two_rows_and_fails(uow_session):
    uow_session.execute(INSERT, [{"r": "a"}, {"r": "b"}])
    uow_session.commit()
    pytest.fail("fails after writing two rows")


@pytest.mark.uow(strategy="truncate")
def test_2_commits_and_leaves_a_connection_in_a_transaction(uow_session, uow_engine):
    uow_session.execute(INSERT, {"r": "c"})
    uow_session.commit()
    left = uow_engine.connect()
    left.execute(text("SELECT count(*) FROM batches"))
    test_2_commits_and_leaves_a_connection_in_a_transaction.left = left
    pytest.fail("fails with a connection left open")


def test_3_passes(uow_session):
    uow_session.execute(INSERT, {"r": "d"})


def test_4_fails_without_writing(uow_session):
    pytest.fail("fails having written nothing")
