"""An application with an ORM model and a module-level ``scoped_session``, as factory_boy and
polyfactory factories are usually bound to one."""

import os

from sqlalchemy import String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, scoped_session, sessionmaker


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


metadata = Base.metadata
engine = create_engine(
    os.environ.get("APP_DATABASE_URL", "postgresql+psycopg2://app@127.0.0.1:1/app")
)
# --8<-- [start:session]
Session = scoped_session(sessionmaker(bind=engine))
# --8<-- [end:session]


def customer_count() -> int:
    return Session.execute(select(func.count()).select_from(Customer)).scalar_one()
