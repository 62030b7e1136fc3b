import getsession
import pytest
from service import add_batch, batch_count, isolation_level
from sqlalchemy import text


def test_commits_land_in_the_tests_isolation(uow_session):
    add_batch("b1")
    assert batch_count() == 1
    assert uow_session.execute(text("SELECT reference FROM batches")).scalars().all() == ["b1"]


def test_the_dependency_commits_after_its_yield():
    dependency = getsession.session_dependency()
    session = next(dependency)
    session.execute(text("INSERT INTO batches (reference, qty) VALUES ('b2', 2)"))
    with pytest.raises(StopIteration):
        next(dependency)
    assert batch_count() == 1


def test_an_error_thrown_into_the_dependency_rolls_back():
    dependency = getsession.session_dependency()
    session = next(dependency)
    session.execute(text("INSERT INTO batches (reference, qty) VALUES ('b3', 3)"))
    with pytest.raises(KeyError):
        dependency.throw(KeyError("from the endpoint"))
    assert batch_count() == 0


@pytest.mark.uow(strategy="truncate")
def test_under_truncate_commits_are_real(uow_engine):
    add_batch("b4")
    with uow_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM batches")).scalar_one() == 1
    assert isolation_level() == "REPEATABLE READ"  # the app's own engine asked for it


def test_starts_empty():
    assert batch_count() == 0
    assert isinstance(getsession.get_session(), getsession.AppSession)
