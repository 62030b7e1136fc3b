"""An application whose tests build expensive data once: a module-level engine on the
configured database (routed to the worker's namespace), a ``scoped_session`` and a
``sessionmaker`` on it."""

import os

from sqlalchemy import Column, ForeignKey, Integer, String, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import declarative_base, scoped_session, sessionmaker

# Declared the way SQLAlchemy 1.4 and 2.x both read.
Base = declarative_base()


class User(Base):  # type: ignore[valid-type,misc]  # a base made at run time
    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    email = Column(String(80), unique=True, nullable=False)


class Item(Base):  # type: ignore[valid-type,misc]  # a base made at run time
    __tablename__ = "items"

    id = Column(Integer, primary_key=True)
    owner_id = Column(Integer, ForeignKey("users.id"))
    title = Column(String(80))


class Category(Base):  # type: ignore[valid-type,misc]  # a base made at run time
    __tablename__ = "categories"

    id = Column(Integer, primary_key=True)
    name = Column(String(80), unique=True)


class Note(Base):  # type: ignore[valid-type,misc]  # a base made at run time
    __tablename__ = "notes"

    id = Column(Integer, primary_key=True)
    text = Column(String(80), nullable=False)


metadata = Base.metadata
URL = make_url(os.environ["UOW_DATABASE_URL"])
engine = create_engine(URL.set(drivername="postgresql+psycopg2"), future=True)
Session = scoped_session(sessionmaker(bind=engine, future=True))
SessionLocal = sessionmaker(bind=engine, future=True)


def other_driver_engine():
    """The same database through psycopg (3), beside the plugin's psycopg2: the test's
    connection of that driver is another one, which keeps the fixtures' rows too."""
    return create_engine(URL.set(drivername="postgresql+psycopg"))


def count(model) -> int:
    with SessionLocal() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def notes() -> list[str]:
    with SessionLocal() as session:
        return sorted(session.scalars(select(Note.text)))


def emails() -> list[str]:
    with SessionLocal() as session:
        return sorted(session.scalars(select(User.email)))
