"""Tests that ask nothing of the plugin: no fixture, no marker."""

import os

import psycopg2
from service import add_batch, batch_count
from sqlalchemy.engine import make_url


def libpq_batch_count(reference=None):
    """Through a libpq connection of the test's own (PGOPTIONS or PGDATABASE route it), adding
    a batch first if given one."""
    url = make_url(os.environ["APP_URL"]).set(drivername="postgresql")
    connection = psycopg2.connect(url.render_as_string(hide_password=False))
    try:
        with connection, connection.cursor() as cursor:
            if reference is not None:
                cursor.execute("INSERT INTO batches (reference, qty) VALUES (%s, 1)", [reference])
            cursor.execute("SELECT count(*) FROM batches")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def test_0_lands_in_the_worker_namespace():
    # The user's database has no such table: the worker's namespace is made, and PGOPTIONS
    # (or PGDATABASE) exported, before the first test, though none asks for them.
    assert batch_count() == 0


def test_1_commits_through_a_libpq_connection_of_its_own():
    assert libpq_batch_count("b1") == 1


def test_2_starts_from_the_baseline():
    assert libpq_batch_count() == 0


def test_3_uses_a_session_fixture_and_commits(uow_engine):
    with uow_engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO batches (reference, qty) VALUES ('b3', 1)")


def test_4_starts_from_the_baseline():
    assert batch_count() == 0


def test_5_commits_through_an_engine_built_per_call_which_joins_the_test():
    add_batch("b5")
    assert batch_count() == 1


def test_6_starts_from_the_baseline():
    assert libpq_batch_count() == 0
