import contextlib

import requests


def test_leaves_a_request_in_flight(uow_live_server):
    with contextlib.suppress(requests.exceptions.Timeout):
        requests.get(f"{uow_live_server}/slow", timeout=0.5)


def test_the_next_test_is_served(uow_live_server):
    assert requests.get(f"{uow_live_server}/count", timeout=10).json() == {"count": 0}
