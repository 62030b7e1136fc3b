from sqlalchemy import text


def test_fixture_without_any_setting(uow_connection, uow_schema):
    uow_connection.execute(text("CREATE TABLE t (id int)"))
    assert uow_connection.execute(text("SELECT current_schema()")).scalar_one() == uow_schema
