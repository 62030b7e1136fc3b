import pytest
from sqlalchemy import text

INSERT = text("INSERT INTO batches (reference, qty) VALUES ('worker', 1)")


@pytest.mark.parametrize("strategy", ["rollback", "truncate", "recreate"])
def test_writes_and_commits(uow_session, strategy):
    uow_session.execute(INSERT)
    uow_session.commit()


@pytest.mark.uow(strategy="truncate")
def test_truncates_and_fails(uow_session):
    uow_session.execute(INSERT)
    uow_session.commit()
    uow_session.execute(text("TRUNCATE batches"))
    uow_session.commit()
    raise AssertionError("a failing test")


@pytest.mark.uow(strategy="recreate")
def test_drops_its_table(uow_session):
    uow_session.execute(text("DROP TABLE batches"))
    uow_session.commit()


@pytest.mark.uow(strategy="truncate")
def test_leaves_a_lock(uow_engine):
    connection = uow_engine.connect()
    connection.execute(text("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE"))
    test_leaves_a_lock.connection = connection


def test_errors_mid_transaction(uow_session):
    uow_session.execute(INSERT)
    uow_session.execute(text("SELECT 1 / 0"))
