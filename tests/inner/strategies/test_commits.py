import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.uow(strategy=os.environ["STRATEGY"])

CHILD = """
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
with engine.connect() as connection:
    print(connection.execute(text("SELECT reference FROM batches")).scalar_one())
"""


@pytest.mark.parametrize("n", range(4))
def test_commit_is_seen_outside(uow_session, uow_database_url, n):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
    new_id = uow_session.execute(
        text("INSERT INTO batches (reference, qty) VALUES ('seen', 1) RETURNING id")
    ).scalar_one()
    uow_session.commit()
    assert new_id == 1, "identity columns restart for every test"
    other = create_engine(uow_database_url)
    with other.connect() as connection:
        assert connection.execute(text("SELECT reference FROM batches")).scalar_one() == "seen"
    other.dispose()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, uow_database_url], capture_output=True, text=True, check=True
    )
    assert child.stdout.strip() == "seen"
