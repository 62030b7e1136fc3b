"""The service layer against fakes: no database, no plugin."""

import pytest
from shop import services
from shop.db import Product
from shop.repository import AbstractRepository
from shop.unit_of_work import AbstractUnitOfWork


class FakeRepository(AbstractRepository):
    def __init__(self):
        self.products = {}
        self.orders = []

    async def get(self, sku):
        return self.products.get(sku)

    def add(self, product):
        self.products[product.sku] = product

    def add_order(self, order):
        self.orders.append(order)


class FakeUnitOfWork(AbstractUnitOfWork):
    def __init__(self):
        self.products = FakeRepository()
        self.committed = False

    async def commit(self):
        self.committed = True

    async def rollback(self):
        pass


async def test_add_product_commits():
    uow = FakeUnitOfWork()
    await services.add_product("LAMP", 3, uow)
    assert uow.products.products["LAMP"].stock == 3
    assert uow.committed


async def test_place_order_takes_from_the_stock():
    uow = FakeUnitOfWork()
    uow.products.add(Product(sku="LAMP", stock=3))
    assert await services.place_order("LAMP", 2, uow) == 1
    assert [order.quantity for order in uow.products.orders] == [2]


async def test_place_order_refuses_more_than_the_stock():
    uow = FakeUnitOfWork()
    uow.products.add(Product(sku="LAMP", stock=1))
    with pytest.raises(services.OutOfStock):
        await services.place_order("LAMP", 2, uow)
    assert not uow.committed


async def test_place_order_for_an_unknown_product():
    with pytest.raises(services.UnknownProduct):
        await services.place_order("NOTHING", 1, FakeUnitOfWork())
