"""The Unit of Work: one atomic operation on the Product aggregate."""

from __future__ import annotations

import abc
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from allocation import config
from allocation.adapters import orm, repository


class AbstractUnitOfWork(abc.ABC):
    products: repository.AbstractRepository

    def __enter__(self) -> AbstractUnitOfWork:
        return self

    def __exit__(self, *args: Any) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...


# Created at import time from configuration and captured below as a default argument: the
# shape that defeats test helpers expecting an engine they can replace.
# --8<-- [start:factory]
DEFAULT_SESSION_FACTORY = sessionmaker(
    bind=create_engine(config.get_postgres_uri(), isolation_level="REPEATABLE READ")
)


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    def __init__(self, session_factory: sessionmaker[Session] = DEFAULT_SESSION_FACTORY) -> None:
        self.session_factory = session_factory
        # --8<-- [end:factory]

    def __enter__(self) -> AbstractUnitOfWork:
        orm.start_mappers()
        self.session = self.session_factory()
        self.products = repository.SqlAlchemyRepository(self.session)
        return super().__enter__()

    def __exit__(self, *args: Any) -> None:
        super().__exit__(*args)
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
