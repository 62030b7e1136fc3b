import os

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

INSERT = text("INSERT INTO batches (reference, qty) VALUES ('b', 1)")


def test_1_commits_through_the_plugin(uow_session):
    uow_session.execute(INSERT)
    uow_session.commit()


@pytest.mark.uow(strategy="truncate")
def test_2_commits_for_real(uow_session):
    uow_session.execute(INSERT)
    uow_session.commit()


def test_3_commits_through_a_connection_of_its_own(uow_engine, uow_connection):
    with uow_engine.begin() as connection:
        connection.execute(INSERT)


def test_4_writes_to_public_through_a_libpq_connection_of_its_own(uow_session):
    # The application's own engines join the test; a connection made outside SQLAlchemy does not.
    url = make_url(os.environ["APP_URL"]).set(drivername="postgresql")
    connection = psycopg2.connect(url.render_as_string(hide_password=False))
    with connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO public.audit VALUES ('from test 4')")
    connection.close()


def test_5_starts_empty(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
