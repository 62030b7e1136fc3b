from typing import Any

import psycopg2
import pytest
from sqlalchemy import text

# Somebody else: a client of another process, as far as pytest-uow can tell (a plain libpq
# connection, which no engine of the test process routes).
others: list[Any] = []


@pytest.mark.uow(strategy="truncate")
def test_1_someone_else_locks_the_schema(uow_dsn):
    connection = psycopg2.connect(uow_dsn, application_name="someone-else")
    connection.cursor().execute("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE")
    others.append(connection)


def test_2_their_connection_was_left_alone():
    connection = others.pop()
    cursor = connection.cursor()
    cursor.execute("SELECT 1")
    assert cursor.fetchone() == (1,)
    connection.close()


@pytest.mark.uow(strategy="truncate")
def test_3_works_again(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
