import pytest
from app import batches
from scoped import Session
from sqlalchemy import func, select


@pytest.mark.parametrize("n", range(3))
def test_scoped_session_is_fresh_and_rolled_back(n):
    assert Session.execute(select(func.count()).select_from(batches)).scalar_one() == 0
    Session.execute(batches.insert().values(reference="r", qty=1))
    Session.commit()
