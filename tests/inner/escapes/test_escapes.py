"""Isolated tests (rollback) that commit through connections outside their transaction, each
followed by a test that must start from the baseline."""

import os
import subprocess
import sys

import psycopg2
from sqlalchemy import text
from sqlalchemy.engine import make_url

COUNT = text("SELECT count(*) FROM batches")
LIBPQ_INSERT = "INSERT INTO batches (reference, qty) VALUES ('{}', 1)"


def libpq_insert(reference):
    """A libpq connection of the test's own: PGOPTIONS routes it to the worker namespace."""
    url = make_url(os.environ["APP_URL"]).set(drivername="postgresql")
    connection = psycopg2.connect(url.render_as_string(hide_password=False))
    with connection, connection.cursor() as cursor:
        cursor.execute(LIBPQ_INSERT.format(reference))
    connection.close()


def test_1_commits_through_a_libpq_connection(uow_session):
    libpq_insert("b1")
    assert uow_session.execute(COUNT).scalar_one() == 1


def test_2_starts_from_the_baseline(uow_session):
    assert uow_session.execute(COUNT).scalar_one() == 0


def test_3_commits_through_uow_engine(uow_session, uow_engine):
    with uow_engine.begin() as connection:
        connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('b3', 1)"))


def test_4_starts_from_the_baseline(uow_session):
    assert uow_session.execute(COUNT).scalar_one() == 0


def test_5_commits_in_a_child_process(uow_session):
    code = (
        "import os, psycopg2\n"
        "from sqlalchemy.engine import make_url\n"
        "url = make_url(os.environ['APP_URL']).set(drivername='postgresql')\n"
        "c = psycopg2.connect(url.render_as_string(hide_password=False))\n"
        f"c.cursor().execute({LIBPQ_INSERT.format('b5')!r}); c.commit()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_6_starts_from_the_baseline(uow_session):
    assert uow_session.execute(COUNT).scalar_one() == 0


def test_7_commits_through_its_own_session_only(uow_session):
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('b7', 1)"))
    uow_session.commit()


def test_8_writes_and_deletes_through_uow_engine(uow_session, uow_engine):
    with uow_engine.begin() as connection:
        connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('b8', 1)"))
    with uow_engine.begin() as connection:
        connection.execute(text("DELETE FROM batches"))


def test_9_starts_from_the_baseline(uow_session):
    assert uow_session.execute(COUNT).scalar_one() == 0
