import pytest
from sqlalchemy import func, select
from webapp import User

# Under truncate and recreate a session that spans tests keeps its own transaction (and, at
# REPEATABLE READ, its snapshot) from one test into the next: these tests pin rollback.
pytestmark = pytest.mark.uow(strategy="rollback")


@pytest.mark.parametrize("n", range(3))
def test_each_tests_writes_through_a_shared_session_vanish_after_it(shared_session, n):
    assert shared_session.scalar(select(func.count()).select_from(User)) == 0
    shared_session.add(User(email=f"shared{n}@example.com"))
    shared_session.commit()
    assert shared_session.scalar(select(func.count()).select_from(User)) == 1
