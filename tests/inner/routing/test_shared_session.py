import pytest
from sqlalchemy import func, select
from webapp import User


@pytest.mark.parametrize("n", range(3))
def test_each_tests_writes_through_a_shared_session_vanish_after_it(shared_session, n):
    """In every strategy: the session spans the tests, each test's rows do not."""
    assert shared_session.scalar(select(func.count()).select_from(User)) == 0
    shared_session.add(User(email=f"shared{n}@example.com"))
    shared_session.commit()
    assert shared_session.scalar(select(func.count()).select_from(User)) == 1
    # Left flushed and uncommitted: its transaction, and the row's locks, end with the test.
    shared_session.add(User(email=f"pending{n}@example.com"))
    shared_session.flush()
