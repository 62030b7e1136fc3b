import asyncio
import os

import app
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import pytest_uow

# The test framework of the run: pytest-asyncio's strict mode (the default), its auto mode
# (nothing marked), or anyio on asyncio.
FRAMEWORK = os.environ.get("ASYNC_FRAMEWORK", "strict")
pytestmark = {"strict": [pytest.mark.asyncio], "auto": [], "anyio": [pytest.mark.anyio]}[FRAMEWORK]


@pytest.mark.parametrize("n", range(3))
async def test_the_apps_commits_are_rolled_back(n):
    assert await app.names() == []
    await app.add_item(f"item {n}")
    await app.add_item("another")
    assert await app.names() == [f"item {n}", "another"]


@pytest.mark.parametrize("n", range(2))
async def test_the_fixture_session_shares_the_tests_transaction(n, uow_async_session):
    await app.add_item("from the app")
    await uow_async_session.execute(app.items.insert().values(name="from the test"))
    await uow_async_session.commit()
    nested = await uow_async_session.begin_nested()
    await uow_async_session.execute(app.items.insert().values(name="undone"))
    await nested.rollback()
    assert await app.names() == ["from the app", "from the test"]


async def test_the_connection_fixture_is_the_one_the_sessions_join(uow_async_connection):
    await app.add_item("from the app")
    await uow_async_connection.execute(app.items.insert().values(name="from the test"))
    result = await uow_async_connection.execute(sa.select(app.items.c.name).order_by("id"))
    assert result.scalars().all() == ["from the app", "from the test"]
    assert await app.names() == ["from the app", "from the test"]


@pytest.mark.uow(strategy="recreate")
async def test_recreate_rebuilds_the_namespace_the_next_tests_use():
    """In database mode the worker database is replaced: the async connections kept on a loop
    that lives on must go first, and the tests after it connect to the new one."""
    await app.add_item("committed")
    assert await app.names() == ["committed"]


@pytest.mark.uow(strategy="truncate")
@pytest.mark.parametrize("n", range(2))
async def test_truncate_commits_for_real(n, uow_async_session_factory):
    assert await app.names() == []
    await app.add_item("committed")
    async with uow_async_session_factory() as session:
        count = sa.select(sa.func.count()).select_from(app.items)
        assert (await session.execute(count)).scalar_one() == 1


@pytest.mark.uow(strategy="truncate")
async def test_two_tasks_have_connections_of_their_own_under_truncate():
    await asyncio.gather(app.add_item("a"), app.add_item("b"))
    assert sorted(await app.names()) == ["a", "b"]


async def test_a_child_task_takes_its_turn_on_the_tests_connection(uow_async_session):
    # As a middleware runs the endpoint (Starlette's BaseHTTPMiddleware): the test's session
    # has a transaction open while a child task, which the test awaits, uses the app's.
    await uow_async_session.execute(app.items.insert().values(name="mine"))
    await asyncio.create_task(app.add_item("theirs"))
    assert sorted(await app.names()) == ["mine", "theirs"]


async def test_two_tasks_on_the_one_connection_are_told_what_to_do():
    if os.environ.get("CONCURRENT") != "1":
        pytest.skip("run with CONCURRENT=1")
    await asyncio.gather(app.add_item("a"), app.add_item("b"))


async def test_an_engine_of_its_own_reaches_the_worker_namespace(uow_database_url, uow_schema):
    driver = os.environ.get("APP_DRIVER", "asyncpg")
    url, connect_args = pytest_uow.async_engine_args(uow_database_url, driver)
    engine = create_async_engine(url, connect_args=connect_args)
    try:
        async with engine.connect() as connection:
            schema = await connection.execute(sa.text("SELECT current_schema()"))
            assert schema.scalar_one() == uow_schema
    finally:
        await engine.dispose()


async def test_the_apps_own_driver_is_used():
    async with app.Session() as session:
        connection = await session.connection()
        assert connection.dialect.driver == os.environ.get("APP_DRIVER", "asyncpg")
