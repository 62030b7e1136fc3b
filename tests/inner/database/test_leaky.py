import os

from sqlalchemy import create_engine, text


def test_1_commits_through_a_connection_of_its_own(uow_engine, uow_connection):
    with uow_engine.begin() as connection:
        connection.execute(text("INSERT INTO customers (name) VALUES ('ada')"))


def test_2_writes_to_the_servers_database_through_the_apps_own_engine(uow_session):
    with create_engine(os.environ["APP_URL"]).begin() as connection:
        connection.execute(text("INSERT INTO public.audit VALUES ('from test 2')"))


def test_3_starts_empty(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
