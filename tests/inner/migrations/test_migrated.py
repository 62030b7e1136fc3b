import pytest
from sqlalchemy import text


def state(session):
    return (
        session.execute(text("SELECT version_num FROM alembic_version")).scalar_one(),
        session.execute(text("SELECT code FROM countries ORDER BY id")).scalars().all(),
        session.execute(text("SELECT count(*) FROM customers")).scalar_one(),
        session.execute(
            text(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'customers' AND column_name = 'email' "
                "AND table_schema = current_schema()"
            )
        ).scalar_one(),
    )


MIGRATED = ("0003", ["FR", "DE"], 0, 1)


def change(session):
    assert state(session) == MIGRATED
    session.execute(text("INSERT INTO countries (code) VALUES ('IT')"))
    session.execute(text("INSERT INTO customers (id, name, country_id) VALUES (1, 'ada', 1)"))
    session.execute(text("DELETE FROM countries WHERE code = 'DE'"))
    session.commit()


@pytest.mark.parametrize("n", range(2))
def test_rollback(n, uow_session):
    change(uow_session)


@pytest.mark.uow(strategy="truncate")
@pytest.mark.parametrize("n", range(2))
def test_truncate(n, uow_session):
    change(uow_session)


@pytest.mark.uow(strategy="recreate")
@pytest.mark.parametrize("n", range(2))
def test_recreate(n, uow_session):
    change(uow_session)
    uow_session.execute(text("ALTER TABLE customers DROP COLUMN email"))
    uow_session.commit()
