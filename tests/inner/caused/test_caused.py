"""Database errors the plugin's routing causes, or seems to: each failing test's report gets a
``pytest-uow`` section saying what the plugin did to the connection, and the remedy."""

import os

import psycopg2
from sqlalchemy import text
from sqlalchemy.engine import make_url


def test_a_libpq_connection_to_another_database_reads_pgoptions():
    # The server's own database: PGOPTIONS names a worker schema that does not exist there,
    # so nothing can be created in it.
    url = make_url(os.environ["APP_URL"]).set(drivername="postgresql", database="postgres")
    connection = psycopg2.connect(url.render_as_string(hide_password=False))
    try:
        connection.cursor().execute("CREATE TABLE pytest_uow_never_made (id int)")
    finally:
        connection.rollback()
        connection.close()


def test_a_table_the_build_did_not_make(uow_session):
    uow_session.execute(text("SELECT * FROM made_by_hand_in_the_developer_database"))


def test_an_error_the_plugin_has_nothing_to_do_with(uow_session):
    uow_session.execute(text("SELECT 1 / 0"))
