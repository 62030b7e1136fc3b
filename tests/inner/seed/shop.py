"""Reference data: countries and their cities, seeded; orders, written by tests."""

import os

from sqlalchemy import (
    Column,
    Computed,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

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


class AppSession(Session):
    """The application's own session class (SQLModel's ``Session`` has ``exec``)."""

    def exec(self, statement):
        return self.execute(statement)


def seed_with_a_session(session: AppSession):
    """As SQLModel's templates write ``init_db(session)``: the app's session class, committed."""
    session.exec(text("INSERT INTO countries (code) VALUES ('FR'), ('DE')"))
    session.commit()
    session.exec(text("INSERT INTO cities (name, country_id) VALUES ('Paris', 1), ('Berlin', 2)"))
    session.commit()


async def seed_with_an_async_session(session: AsyncSession):
    await session.execute(text("INSERT INTO countries (code) VALUES ('FR'), ('DE')"))
    await session.execute(
        text("INSERT INTO cities (name, country_id) VALUES ('Paris', 1), ('Berlin', 2)")
    )
    await session.commit()


def seed_with_the_apps_engine():
    """No argument: the application's own engine, built from its own settings."""
    engine = create_engine(os.environ["APP_URL"])
    with engine.begin() as connection:
        seed(connection)
    engine.dispose()
