import os

from appdb import engine
from sqlalchemy import text


def test_connections_of_an_import_time_engine_land_in_the_worker_schema(uow_schema):
    assert os.environ["PGAPPNAME"].startswith("pytest-uow ")
    assert f"search_path={uow_schema}" in os.environ["PGOPTIONS"]
    with engine.connect() as connection:
        search_path = connection.execute(text("SHOW search_path")).scalar_one()
        assert search_path == f"{uow_schema},pytest_uow_extensions"
        assert connection.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
