import pytest
from sqlalchemy import text


def test_commits_for_real_without_a_marker(uow_engine):
    # Matched by the uow_strategies pattern: truncate, though it asks for no function fixture.
    with uow_engine.begin() as connection:
        connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('e2e', 1)"))


@pytest.mark.uow(strategy="rollback")
def test_the_marker_still_wins(uow_session):
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('marked', 1)"))
