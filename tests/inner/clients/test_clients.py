import os
from pathlib import Path

import psycopg2
import pytest


@pytest.mark.parametrize("n", range(4))
def test_a_libpq_client_lands_in_the_worker_namespace(uow_dsn, uow_schema, monkeypatch, n):
    assert uow_dsn.startswith("postgresql://")
    # Only the URL says where: not the PGOPTIONS the worker exports.
    monkeypatch.delenv("PGOPTIONS", raising=False)
    with psycopg2.connect(uow_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        assert cursor.fetchone()[0] == uow_schema


@pytest.mark.parametrize("n", range(4))
def test_the_worker_index(uow_worker_index, n):
    Path(os.environ["REPORT_DIR"], str(uow_worker_index)).touch()
