import pytest
from app import SqlAlchemyUnitOfWork, add_batch, count_batches
from sqlalchemy import text


def write_and_check(factory):
    assert count_batches(SqlAlchemyUnitOfWork(factory)) == 0
    add_batch("ref", 1, SqlAlchemyUnitOfWork(factory))
    assert count_batches(SqlAlchemyUnitOfWork(factory)) == 1


@pytest.mark.parametrize("n", range(6))
def test_rollback(uow_session_factory, n):
    write_and_check(uow_session_factory)


@pytest.mark.uow(strategy="truncate")
@pytest.mark.parametrize("n", range(6))
def test_truncate(uow_session_factory, n):
    write_and_check(uow_session_factory)


@pytest.mark.uow(strategy="recreate")
@pytest.mark.parametrize("n", range(3))
def test_recreate(uow_session_factory, n):
    write_and_check(uow_session_factory)


@pytest.mark.uow(strategy="truncate")
class TestMarkedClass:
    def test_app_factory_commits_for_real(self, uow_engine):
        add_batch("ref", 1, SqlAlchemyUnitOfWork())
        with uow_engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM batches")).scalar_one() == 1

    def test_marker_alone_cleans_up(self, uow_engine):
        with uow_engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
            connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('e', 1)"))
