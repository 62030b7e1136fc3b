"""An application whose tests build expensive data once: a module-level engine on the
configured database (routed to the worker's namespace), a ``scoped_session`` and a
``sessionmaker`` on it."""

import os

from sqlalchemy import ForeignKey, String, create_engine, func, make_url, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, scoped_session, sessionmaker


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(80), unique=True)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(80))


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(80))


metadata = Base.metadata
# The application names its driver: the one of the plugin's own connections (psycopg2 for a
# plain postgresql:// URL), on which rows of wider-scoped fixtures are kept.
engine = create_engine(
    make_url(os.environ["UOW_DATABASE_URL"]).set(drivername="postgresql+psycopg2")
)
Session = scoped_session(sessionmaker(bind=engine))
SessionLocal = sessionmaker(bind=engine)


def count(model) -> int:
    with SessionLocal() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def notes() -> list[str]:
    with SessionLocal() as session:
        return sorted(session.scalars(select(Note.text)))


def emails() -> list[str]:
    with SessionLocal() as session:
        return sorted(session.scalars(select(User.email)))
