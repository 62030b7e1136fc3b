import os

from sqlalchemy import text


def test_schema(uow_schema, uow_session):
    assert uow_schema.startswith(os.environ["EXPECTED_PREFIX"] + "_")
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar() == 0
