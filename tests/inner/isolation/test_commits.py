import pytest
from app import SqlAlchemyUnitOfWork, add_batch, count_batches


@pytest.mark.parametrize("n", range(8))
def test_default_factory_commits(n):
    assert count_batches(SqlAlchemyUnitOfWork()) == 0
    add_batch("same-ref", 10, SqlAlchemyUnitOfWork())
    assert count_batches(SqlAlchemyUnitOfWork()) == 1


@pytest.mark.parametrize("n", range(8))
def test_injected_factory_commits(uow_session_factory, n):
    uow = SqlAlchemyUnitOfWork(uow_session_factory)
    assert count_batches(uow) == 0
    add_batch("same-ref", 10, uow)
    assert count_batches(uow) == 1
