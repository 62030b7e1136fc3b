import requests


def test_async_sessions_serve_the_test_on_the_servers_loop(uow_live_server):
    response = requests.post(f"{uow_live_server}/items", json={"name": "one"}, timeout=10)
    assert (response.status_code, response.json()) == (201, {"names": ["one"]})


def test_then_the_next_test_starts_empty(uow_live_server):
    assert requests.get(f"{uow_live_server}/items", timeout=10).json() == {"names": []}
