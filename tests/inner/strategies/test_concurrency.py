import threading
import time

import pytest
from app import SqlAlchemyUnitOfWork
from sqlalchemy import text
from sqlalchemy.exc import OperationalError


def try_to_update(exceptions):
    try:
        with SqlAlchemyUnitOfWork() as uow:  # the app's own factory, REPEATABLE READ
            qty = uow.session.execute(
                text("SELECT qty FROM batches WHERE reference = 'b1'")
            ).scalar_one()
            time.sleep(0.3)
            uow.session.execute(
                text("UPDATE batches SET qty = :q WHERE reference = 'b1'"), {"q": qty - 1}
            )
            uow.commit()
    except OperationalError as error:
        exceptions.append(error)


@pytest.mark.uow(strategy="truncate")
def test_concurrent_updates_to_one_aggregate(uow_session):
    level = uow_session.connection().execute(text("SHOW transaction_isolation")).scalar_one()
    assert level == "read committed", "the plugin's own sessions keep the default"
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('b1', 10)"))
    uow_session.commit()
    exceptions: list[Exception] = []
    threads = [threading.Thread(target=try_to_update, args=(exceptions,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(exceptions) == 1
    assert "could not serialize access due to concurrent update" in str(exceptions[0])
    uow_session.expire_all()
    assert uow_session.execute(text("SELECT qty FROM batches")).scalar_one() == 9


def test_rollback_is_still_the_default(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
