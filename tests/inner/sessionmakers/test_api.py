import pytest
from app import create_app


@pytest.fixture
def client():
    return create_app().test_client()


@pytest.mark.parametrize("n", range(4))
def test_endpoint_commits_through_its_own_unit_of_work(client, n):
    response = client.post("/batches", json={"reference": "batch-1", "qty": 20})
    assert response.status_code == 201
    assert response.get_json() == {"count": 1}


def test_endpoint_served_by_a_wsgi_server_thread():
    import json
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app())
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        for expected in (1, 2):
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.server_port}/batches",
                method="POST",
                data=json.dumps({"reference": f"b{expected}", "qty": 1}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert json.load(response) == {"count": expected}
    finally:
        server.shutdown()
        thread.join()
