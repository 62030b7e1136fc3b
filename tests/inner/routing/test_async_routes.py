import os

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from webapp import User

pytestmark = pytest.mark.skipif("ASYNC_APP_URL" not in os.environ, reason="sync run")

async_engine = create_async_engine(os.environ.get("ASYNC_APP_URL", "postgresql+asyncpg://x/y"))


async def test_an_async_engine_joins_the_test_too():
    async with AsyncSession(async_engine) as session:
        session.add(User(email="async@example.com"))
        await session.commit()
    async with async_engine.begin() as connection:
        await connection.execute(text("INSERT INTO users (email) VALUES ('begin@example.com')"))
    async with AsyncSession(async_engine) as session:
        emails = (await session.scalars(select(User.email).order_by(User.email))).all()
    assert emails == ["async@example.com", "begin@example.com"]


@pytest.mark.parametrize("n", range(3))
async def test_every_async_test_starts_empty(n):
    async with AsyncSession(async_engine) as session:
        assert (await session.scalars(select(User.email))).all() == []
        session.add(User(email=f"n{n}@example.com"))
        await session.commit()
