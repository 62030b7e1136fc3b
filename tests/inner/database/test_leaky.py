import os

import psycopg2
from sqlalchemy import text
from sqlalchemy.engine import make_url


def test_1_commits_through_a_connection_of_its_own(uow_engine, uow_connection):
    with uow_engine.begin() as connection:
        connection.execute(text("INSERT INTO customers (name) VALUES ('ada')"))


def test_2_writes_to_the_servers_database_through_a_libpq_connection(uow_session):
    # The application's own engines join the test; a connection made outside SQLAlchemy does not.
    url = make_url(os.environ["APP_URL"]).set(drivername="postgresql")
    connection = psycopg2.connect(url.render_as_string(hide_password=False))
    with connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO public.audit VALUES ('from test 2')")
    connection.close()


def test_3_starts_empty(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
