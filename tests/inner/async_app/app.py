"""An async service's data layer, as FastAPI apps write it: a module-level engine and
async_sessionmaker, used by the service functions. The driver comes from APP_DRIVER."""

import functools
import os

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import sessionmaker

try:
    from sqlalchemy.ext.asyncio import async_sessionmaker
except ImportError:  # SQLAlchemy 1.4 spells it this way
    async_sessionmaker = functools.partial(sessionmaker, class_=AsyncSession)  # type: ignore[misc,assignment]


metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)

engine = create_async_engine(
    f"postgresql+{os.environ.get('APP_DRIVER', 'asyncpg')}://app@127.0.0.1:1/app"
)
Session = async_sessionmaker(engine, expire_on_commit=False)


async def add_item(name):
    async with Session() as session:
        await session.execute(items.insert().values(name=name))
        await session.commit()


async def names():
    async with Session() as session:
        return (await session.execute(sa.select(items.c.name).order_by(items.c.id))).scalars().all()
