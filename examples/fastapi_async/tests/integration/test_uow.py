"""The Unit of Work on PostgreSQL, through the plugin's async session factory: commits as in
production, all of it gone after each test (fixed SKUs, every test starts empty)."""

import asyncio

import pytest
from shop import services
from shop.unit_of_work import SqlAlchemyUnitOfWork
from sqlalchemy import text


# --8<-- [start:async]
async def test_commit_persists_within_the_test(uow_async_session_factory):
    await services.add_product("LAMP", 5, SqlAlchemyUnitOfWork(uow_async_session_factory))

    assert await services.stock_of("LAMP", SqlAlchemyUnitOfWork(uow_async_session_factory)) == 5


async def test_uncommitted_work_is_rolled_back(uow_async_session_factory, uow_async_session):
    async with SqlAlchemyUnitOfWork(uow_async_session_factory) as uow:
        await uow.session.execute(text("INSERT INTO products VALUES ('LAMP', 5)"))

    count = await uow_async_session.execute(text("SELECT count(*) FROM products"))
    assert count.scalar_one() == 0
    # --8<-- [end:async]


@pytest.mark.parametrize("attempt", range(2))
async def test_every_test_starts_empty(uow_async_session_factory, attempt):
    """The same SKU in every attempt: the one before left nothing."""
    await services.add_product("CHAIR", 2, SqlAlchemyUnitOfWork(uow_async_session_factory))
    assert (
        await services.place_order("CHAIR", 2, SqlAlchemyUnitOfWork(uow_async_session_factory)) == 0
    )


async def place_slowly(sku, results):
    """An order that reads the stock, waits, then takes from it: two at once must collide."""
    try:
        async with SqlAlchemyUnitOfWork() as uow:  # the app's own factory
            product = await uow.products.get(sku)
            await asyncio.sleep(0.2)
            product.stock -= 1
            await uow.commit()
        results.append("ok")
    except Exception as error:
        results.append(error)


@pytest.mark.uow(strategy="truncate")
async def test_concurrent_orders_for_the_last_item_one_loses():
    """Two tasks, two connections (truncate: real commits), REPEATABLE READ as in production:
    the second update of the same row must fail."""
    await services.add_product("LAST-ONE", 1, SqlAlchemyUnitOfWork())
    results = []

    await asyncio.gather(place_slowly("LAST-ONE", results), place_slowly("LAST-ONE", results))

    assert results.count("ok") == 1
    [error] = [result for result in results if result != "ok"]
    assert "could not serialize access due to concurrent update" in str(error)
    assert await services.stock_of("LAST-ONE", SqlAlchemyUnitOfWork()) == 0
