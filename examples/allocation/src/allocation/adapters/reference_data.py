"""Reference data: the catalogue of products the shop sells, loaded into every new database
(`python -m allocation.adapters.reference_data` in production; pytest-uow's `uow_seed` in the
tests, where every test starts with it)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from allocation.adapters import orm

# --8<-- [start:seed]
CATALOGUE = ("CATALOGUE-CHAIR", "CATALOGUE-LAMP")


def load(connection: Connection) -> None:
    connection.execute(insert(orm.products), [{"sku": sku} for sku in CATALOGUE])
    # --8<-- [end:seed]


if __name__ == "__main__":
    from sqlalchemy import create_engine

    from allocation import config

    with create_engine(config.get_postgres_uri()).begin() as connection:
        load(connection)
