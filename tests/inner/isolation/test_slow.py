import time

import pytest
from app import SqlAlchemyUnitOfWork, add_batch, count_batches


@pytest.mark.parametrize("n", range(6))
def test_commit_and_linger(n):
    assert count_batches(SqlAlchemyUnitOfWork()) == 0
    add_batch("shared-ref", 1, SqlAlchemyUnitOfWork())
    time.sleep(0.2)
    assert count_batches(SqlAlchemyUnitOfWork()) == 1
