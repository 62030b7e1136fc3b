"""The Unit of Work: one session, one transaction, committed only when asked."""

from __future__ import annotations

import abc
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop import db
from shop.repository import AbstractRepository, SqlAlchemyRepository


class AbstractUnitOfWork(abc.ABC):
    products: AbstractRepository

    async def __aenter__(self) -> AbstractUnitOfWork:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.rollback()

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession] = db.Session) -> None:
        self.session_factory = session_factory  # captured at import time, as in Cosmic Python

    async def __aenter__(self) -> AbstractUnitOfWork:
        self.session = self.session_factory()
        self.products = SqlAlchemyRepository(self.session)
        return await super().__aenter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await super().__aexit__(kind, error, traceback)
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
