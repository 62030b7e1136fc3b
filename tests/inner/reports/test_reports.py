"""Failing tests whose reports say where their data was."""

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

INSERT = text("INSERT INTO batches (reference, qty) VALUES (:r, 1)")


def test_1_writes_two_rows_and_fails(uow_session):
    uow_session.execute(INSERT, [{"r": "a"}, {"r": "b"}])
    uow_session.commit()
    pytest.fail("fails after writing two rows")


@pytest.fixture
def closed_after_the_report():
    """Connections the test leaves open while it fails (its report is made before its
    teardown), closed afterwards so that the tests after it, in any order, meet none."""
    connections: list[Connection] = []
    yield connections
    for connection in connections:
        connection.close()


@pytest.mark.uow(strategy="truncate")
def test_2_commits_and_leaves_a_connection_in_a_transaction(
    uow_session, uow_engine, closed_after_the_report
):
    uow_session.execute(INSERT, {"r": "c"})
    uow_session.commit()
    left = uow_engine.connect()
    left.execute(text("SELECT count(*) FROM batches"))
    closed_after_the_report.append(left)
    pytest.fail("fails with a connection left open")


def test_3_passes(uow_session):
    uow_session.execute(INSERT, {"r": "d"})


def test_4_fails_without_writing(uow_session):
    pytest.fail("fails having written nothing")
