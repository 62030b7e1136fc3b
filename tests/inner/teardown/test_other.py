import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

others: list[Connection] = []


@pytest.mark.uow(strategy="truncate")
def test_1_someone_else_locks_the_schema(uow_database_url):
    engine = create_engine(uow_database_url, connect_args={"application_name": "someone-else"})
    connection = engine.connect()
    connection.execute(text("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE"))
    others.append(connection)


def test_2_their_connection_was_left_alone():
    connection = others.pop()
    assert connection.execute(text("SELECT 1")).scalar_one() == 1
    connection.close()


@pytest.mark.uow(strategy="truncate")
def test_3_works_again(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
