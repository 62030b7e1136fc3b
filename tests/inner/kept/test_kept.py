"""Two failing tests and a passing one: only the failures' rows are kept."""

import pytest
from sqlalchemy import text

INSERT = text("INSERT INTO batches (reference, qty) VALUES (:r, :q)")


def test_1_writes_two_rows_and_fails(uow_session):
    uow_session.execute(INSERT, [{"r": "a", "q": 1}, {"r": "b", "q": 2}])
    uow_session.commit()
    pytest.fail("fails after writing two rows")


def test_2_passes(uow_session):
    uow_session.execute(INSERT, {"r": "passing", "q": 3})


@pytest.mark.uow(strategy="truncate")
def test_3_commits_one_row_and_fails(uow_session):
    uow_session.execute(INSERT, {"r": "c", "q": 4})
    uow_session.commit()
    pytest.fail("fails after committing a row")
