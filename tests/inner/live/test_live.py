from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import text

urls: set[str] = set()


def test_the_server_sees_the_tests_rows_and_its_commits_are_rolled_back(
    uow_live_server, uow_session
):
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('from-test', 1)"))
    uow_session.commit()
    response = requests.post(
        f"{uow_live_server.url}/batches", json={"reference": "b1", "qty": 5}, timeout=10
    )
    assert (response.status_code, response.json()) == (201, {"count": 2})
    # What the server committed, the test sees: one connection, one transaction.
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 2
    urls.add(str(uow_live_server))


@pytest.mark.parametrize("attempt", range(2))
def test_every_test_starts_empty(uow_live_server, attempt):
    assert requests.get(f"{uow_live_server}/count", timeout=10).json() == {"count": 0}
    requests.post(f"{uow_live_server}/batches", json={"reference": "b1", "qty": 5}, timeout=10)
    urls.add(str(uow_live_server))


@pytest.mark.uow(strategy="truncate")
def test_under_truncate_its_commits_are_real(uow_live_server, uow_engine):
    requests.post(f"{uow_live_server}/batches", json={"reference": "b2", "qty": 1}, timeout=10)
    with uow_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM batches")).scalar_one() == 1
    urls.add(str(uow_live_server))


def test_concurrent_requests_are_served_one_at_a_time(uow_live_server):
    def post(number):
        body: dict[str, Any] = {"reference": f"c{number}", "qty": 1}
        return requests.post(f"{uow_live_server}/batches", json=body, timeout=10).json()

    with ThreadPoolExecutor(4) as pool:
        counts = sorted(response["count"] for response in pool.map(post, range(8)))
    assert counts == list(range(1, 9))  # each request saw all before it: one after another
    urls.add(str(uow_live_server))


def test_one_server_per_worker():
    assert len(urls) <= 1
