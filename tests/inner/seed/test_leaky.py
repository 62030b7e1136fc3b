from sqlalchemy import text


def test_1_adds_a_country_through_a_connection_of_its_own(uow_engine, uow_session):
    with uow_engine.begin() as connection:
        connection.execute(text("INSERT INTO countries (code) VALUES ('IT')"))


def test_2_deletes_a_seeded_city_through_a_connection_of_its_own(uow_engine, uow_session):
    with uow_engine.begin() as connection:
        connection.execute(text("DELETE FROM cities WHERE id = 2"))


def test_3_starts_from_the_seed(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM countries")).scalar_one() == 2
    assert uow_session.execute(text("SELECT count(*) FROM cities")).scalar_one() == 2
