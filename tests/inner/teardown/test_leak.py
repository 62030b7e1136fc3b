import threading

import pytest
from sqlalchemy import create_engine, text

leaked: list[object] = []


@pytest.mark.uow(strategy="truncate")
def test_1_leaves_a_connection_holding_a_lock(uow_engine):
    connection = uow_engine.connect()
    connection.execute(text("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE"))
    leaked.append(connection)


@pytest.mark.uow(strategy="recreate")
def test_2_leaves_a_thread_in_a_transaction(uow_database_url):
    # Application code in a thread, with an engine of its own, that never finishes.
    holding = threading.Event()

    def hold():
        with create_engine(uow_database_url).begin() as connection:
            connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('t', 1)"))
            holding.set()
            threading.Event().wait()

    threading.Thread(target=hold, daemon=True).start()
    assert holding.wait(10)


@pytest.mark.uow(strategy="truncate")
def test_3_starts_empty_and_commits(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('3', 3)"))
    uow_session.commit()


def test_4_leaves_a_lock_until_the_end_of_the_run(uow_connection, uow_engine):
    connection = uow_engine.connect()
    connection.execute(text("LOCK TABLE batches IN SHARE MODE"))
    leaked.append(connection)
