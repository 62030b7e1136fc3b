import pytest
from sqlalchemy import text

SEEDED = ([(1, "FR", "fr"), (2, "DE", "de")], ["Paris", "Berlin"], 0)


def state(session):
    return (
        [tuple(row) for row in session.execute(text("SELECT * FROM countries ORDER BY id"))],
        session.execute(text("SELECT name FROM cities ORDER BY id")).scalars().all(),
        session.execute(text("SELECT count(*) FROM orders")).scalar_one(),
    )


def change_everything(session, ids_restart=True):
    assert state(session) == SEEDED
    new = session.execute(text("INSERT INTO countries (code) VALUES ('IT') RETURNING id"))
    assert new.scalar_one() == 3 or not ids_restart
    session.execute(text("UPDATE cities SET name = 'Lyon' WHERE id = 1"))
    session.execute(text("INSERT INTO orders (id, city_id) VALUES (1, 1)"))
    session.execute(text("DELETE FROM cities WHERE id = 2"))
    session.commit()


@pytest.mark.parametrize("n", range(3))
def test_rollback(n, uow_session):
    change_everything(uow_session, ids_restart=False)


@pytest.mark.uow(strategy="truncate")
@pytest.mark.parametrize("n", range(3))
def test_truncate(n, uow_session):
    change_everything(uow_session)


@pytest.mark.uow(strategy="recreate")
@pytest.mark.parametrize("n", range(3))
def test_recreate(n, uow_session):
    change_everything(uow_session)
    uow_session.execute(text("ALTER TABLE cities ADD COLUMN population int"))
    uow_session.commit()
