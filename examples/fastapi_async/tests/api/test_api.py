"""The HTTP API through httpx over ASGI: every request's SqlAlchemyUnitOfWork() uses the app's
own async_sessionmaker, which the plugin re-binds for each test. No dependency override."""

import httpx
import pytest
from shop.api import app
from sqlalchemy import text


# --8<-- [start:client]
@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        yield client


async def test_an_order_takes_from_the_stock(client):
    assert (await client.post("/products", json={"sku": "LAMP", "stock": 3})).status_code == 201

    response = await client.post("/orders", json={"sku": "LAMP", "quantity": 2})

    assert response.status_code == 201
    assert response.json() == {"stock": 1}
    assert (await client.get("/products/LAMP")).json() == {"stock": 1}


# --8<-- [end:client]


async def test_out_of_stock_is_409(client):
    await client.post("/products", json={"sku": "LAMP", "stock": 1})

    response = await client.post("/orders", json={"sku": "LAMP", "quantity": 2})

    assert response.status_code == 409
    assert (await client.get("/products/LAMP")).json() == {"stock": 1}


@pytest.mark.parametrize("attempt", range(3))
async def test_the_same_sku_every_time(client, attempt):
    """Each attempt creates LAMP again: the one before left nothing."""
    assert (await client.post("/products", json={"sku": "LAMP", "stock": 1})).status_code == 201


async def test_unknown_product_is_404(client):
    assert (await client.get("/products/NOTHING")).status_code == 404


async def test_the_tests_session_and_the_api_take_turns(client, uow_async_session):
    """The test's own session holds a transaction open while a request runs in the
    middleware's child task: they take turns on the test's connection."""
    await uow_async_session.execute(text("INSERT INTO products (sku, stock) VALUES ('DESK', 5)"))

    response = await client.post("/orders", json={"sku": "DESK", "quantity": 2})

    assert response.status_code == 201
    assert "x-process-time" in response.headers
    stock = await uow_async_session.execute(text("SELECT stock FROM products WHERE sku = 'DESK'"))
    assert stock.scalar_one() == 3
