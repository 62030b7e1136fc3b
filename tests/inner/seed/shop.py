"""Reference data: countries and their cities, seeded; orders, written by tests."""

from sqlalchemy import (
    Column,
    Computed,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    text,
)

metadata = MetaData()
countries = Table(
    "countries",
    metadata,
    Column("id", Integer, Identity(always=True), primary_key=True),
    Column("code", String(2), unique=True, nullable=False),
    Column("lower_code", String(2), Computed("lower(code)", persisted=True)),
)
cities = Table(
    "cities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("country_id", ForeignKey("countries.id"), nullable=False),
)
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("city_id", ForeignKey("cities.id"), nullable=False),
)


def seed(connection):
    connection.execute(text("INSERT INTO countries (code) VALUES ('FR'), ('DE')"))
    connection.execute(
        text("INSERT INTO cities (name, country_id) VALUES ('Paris', 1), ('Berlin', 2)")
    )


def broken_seed(connection):
    connection.execute(text("INSERT INTO countries (code) VALUES ('FRA')"))
