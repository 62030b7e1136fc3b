"""Products, in memory for unit tests or through an AsyncSession."""

from __future__ import annotations

import abc

from sqlalchemy.ext.asyncio import AsyncSession

from shop.db import Order, Product


class AbstractRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, sku: str) -> Product | None: ...

    @abc.abstractmethod
    def add(self, product: Product) -> None: ...

    @abc.abstractmethod
    def add_order(self, order: Order) -> None: ...


class SqlAlchemyRepository(AbstractRepository):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, sku: str) -> Product | None:
        return await self.session.get(Product, sku)

    def add(self, product: Product) -> None:
        self.session.add(product)

    def add_order(self, order: Order) -> None:
        self.session.add(order)
