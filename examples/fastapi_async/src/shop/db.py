"""The database, as production configures it: one async engine and one async_sessionmaker for
the whole process, REPEATABLE READ so that concurrent orders cannot both take the last item."""

from __future__ import annotations

import os

from sqlalchemy import Integer, MetaData, String
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

metadata = MetaData()


class Base(DeclarativeBase):
    metadata = metadata


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(50), primary_key=True)
    stock: Mapped[int] = mapped_column(Integer, nullable=False)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(50), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)


def database_url() -> str:
    return os.environ.get("DATABASE_URL", "postgresql+asyncpg://shop@127.0.0.1:5432/shop")


engine = create_async_engine(database_url(), isolation_level="REPEATABLE READ")
Session = async_sessionmaker(engine, expire_on_commit=False)
