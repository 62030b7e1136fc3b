import pytest
from sqlalchemy import create_engine, text

ENGINES: list[object] = []


@pytest.mark.uow(strategy="recreate")
def test_1_commits_through_an_engine_of_its_own(uow_database_url):
    engine = create_engine(uow_database_url)
    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))
    ENGINES.append(engine)  # its pool keeps the connection, idle after its COMMIT


def test_2_starts_afresh(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
