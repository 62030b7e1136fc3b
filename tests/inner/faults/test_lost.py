import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import text


def test_1_works(uow_session):
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('a', 1)"))
    uow_session.commit()


def test_2_the_server_goes_away(uow_connection):
    # Once every worker has its database ready (it is at a test), the server goes away.
    workers = int(os.environ["WORKERS"])
    here = Path(os.environ["SERVER_GONE"]).parent
    deadline = time.monotonic() + 60
    while len(list(here.glob("ready-*"))) < workers:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    data = Path(uow_connection.execute(text("SHOW data_directory")).scalar_one())
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGQUIT)  # what `pg_ctl stop -m immediate` does
    while data.exists():  # gone for good: its directory is removed after it
        assert time.monotonic() < deadline
        time.sleep(0.01)
    Path(os.environ["SERVER_GONE"]).touch()


@pytest.mark.parametrize("n", range(4))
def test_3_needs_the_database(uow_session, n):
    uow_session.execute(text("SELECT 1"))


def test_4_uses_only_the_engine(uow_engine):
    pass


def test_5_needs_no_database():
    pass
