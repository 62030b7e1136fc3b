import threading

import pytest
from sqlalchemy import text


@pytest.fixture
def consumer(uow_engine):
    """A background consumer that writes what it has left when it is stopped."""
    stop = threading.Event()

    def run():
        stop.wait()
        with uow_engine.begin() as connection:
            connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('late', 1)"))

    thread = threading.Thread(target=run)
    thread.start()
    yield
    stop.set()
    thread.join()


def test_1_with_a_consumer(consumer, uow_session):
    pass


def test_2_starts_empty(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
