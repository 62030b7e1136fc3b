import os
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url


@pytest.fixture(autouse=True)
def report_database(uow_engine):
    with uow_engine.connect() as connection:
        name = connection.execute(text("SELECT current_database()")).scalar_one()
    Path(os.environ["REPORT_DIR"], name).write_text(name)


def write_a_customer_and_an_invoice(factory, sequences_restart=True):
    with factory() as session:
        assert session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
        assert session.execute(text("SELECT count(*) FROM billing.invoices")).scalar_one() == 0
        customer = session.execute(
            text("INSERT INTO customers (name) VALUES ('ada') RETURNING id")
        ).scalar_one()
        assert customer == 1 or not sequences_restart
        session.execute(
            text("INSERT INTO billing.invoices (customer_id, amount) VALUES (:c, 10)"),
            {"c": customer},
        )
        session.commit()


@pytest.mark.parametrize("n", range(3))
def test_rollback(n, uow_session_factory):
    write_a_customer_and_an_invoice(uow_session_factory, sequences_restart=False)


@pytest.mark.uow(strategy="truncate")
@pytest.mark.parametrize("n", range(3))
def test_truncate_commits_for_real(n, uow_session_factory):
    write_a_customer_and_an_invoice(uow_session_factory)
    with psycopg2.connect("") as connection:  # libpq: PGDATABASE and where the server is
        cursor = connection.cursor()
        cursor.execute("SELECT count(*) FROM billing.invoices")
        assert cursor.fetchone()[0] == 1


@pytest.mark.uow(strategy="recreate")
@pytest.mark.parametrize("n", range(3))
def test_recreate_undoes_schema_changes(n, uow_session_factory, uow_connection):
    write_a_customer_and_an_invoice(uow_session_factory)
    columns = uow_connection.execute(
        text(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'billing' AND table_name = 'invoices'"
        )
    ).scalar_one()
    assert columns == 3
    uow_connection.execute(text("ALTER TABLE billing.invoices ADD COLUMN note text"))
    uow_connection.execute(text("CREATE SCHEMA IF NOT EXISTS scratch"))
    uow_connection.execute(text("CREATE TABLE scratch.t (id int)"))
    uow_connection.commit()


def test_the_worker_database_is_everywhere(uow_database_url, uow_engine, uow_schema):
    with uow_engine.connect() as connection:
        name = connection.execute(text("SELECT current_database()")).scalar_one()
    assert make_url(uow_database_url).database == name
    assert os.environ["PGDATABASE"] == name
    assert uow_schema == "public"
    with psycopg2.connect("") as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone()[0] == name
