"""Use cases, each one Unit of Work."""

from __future__ import annotations

from shop.db import Order, Product
from shop.unit_of_work import AbstractUnitOfWork


class UnknownProduct(Exception):
    pass


class OutOfStock(Exception):
    pass


async def add_product(sku: str, stock: int, uow: AbstractUnitOfWork) -> None:
    async with uow:
        uow.products.add(Product(sku=sku, stock=stock))
        await uow.commit()


async def place_order(sku: str, quantity: int, uow: AbstractUnitOfWork) -> int:
    """Take ``quantity`` from the product's stock; return what is left."""
    async with uow:
        product = await uow.products.get(sku)
        if product is None:
            raise UnknownProduct(sku)
        if product.stock < quantity:
            raise OutOfStock(sku)
        product.stock -= quantity
        uow.products.add_order(Order(sku=sku, quantity=quantity))
        await uow.commit()
        return product.stock


async def stock_of(sku: str, uow: AbstractUnitOfWork) -> int:
    async with uow:
        product = await uow.products.get(sku)
        if product is None:
            raise UnknownProduct(sku)
        return product.stock
