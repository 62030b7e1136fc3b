import os

from sqlalchemy import text


def test_every_setting(uow_schema, uow_session):
    assert uow_schema.startswith(os.environ["EXPECTED_PREFIX"] + "_")
    # Built by the migrations (uow_alembic, whose rows are FR and DE), then seeded (uow_seed).
    codes = uow_session.execute(text("SELECT code FROM countries ORDER BY id")).scalars().all()
    assert codes == ["FR", "DE", "NL"]
