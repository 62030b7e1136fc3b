import pytest
from sqlalchemy import text


@pytest.mark.uow(strategy="recreate")
def test_1_drops_a_table(uow_connection):
    uow_connection.execute(text("DROP TABLE batches"))
    uow_connection.commit()


@pytest.mark.uow(strategy="recreate")
def test_2_alters_a_table(uow_connection):
    uow_connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('x', 1)"))
    uow_connection.execute(text("ALTER TABLE batches DROP COLUMN qty"))
    uow_connection.commit()


def test_3_the_table_is_back(uow_session):
    columns = uow_session.execute(
        text(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'batches' "
            "AND table_schema = current_schema()"
        )
    ).scalar_one()
    assert columns == 3
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
    mark = uow_session.execute(
        text(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
            "WHERE nspname = current_schema()"
        )
    ).scalar_one()
    assert mark.startswith("pytest-uow run="), "the reaper must still know the rebuilt schema"
