from sqlalchemy import text


def test_1_leaves_a_session_in_a_transaction(uow_session_factory):
    session = uow_session_factory()
    session.execute(text("INSERT INTO batches (reference, qty) VALUES ('a', 1)"))
    session.commit()
    session.execute(text("UPDATE batches SET qty = 2"))  # row lock, never committed


def test_2_starts_empty(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
