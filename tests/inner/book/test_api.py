"""The book's API tests, with fixed references: every test starts from empty tables."""

import flask_app


def post_to_add_batch(client, ref, sku, qty, eta):
    r = client.post("/add_batch", json={"ref": ref, "sku": sku, "qty": qty, "eta": eta})
    assert r.status_code == 201


def test_happy_path_returns_201_and_allocated_batch():
    client = flask_app.app.test_client()
    post_to_add_batch(client, "batch2", "SMALL-TABLE", 100, "2011-01-02")
    post_to_add_batch(client, "batch1", "SMALL-TABLE", 100, "2011-01-01")
    post_to_add_batch(client, "batch3", "OTHER-TABLE", 100, None)

    r = client.post("/allocate", json={"orderid": "o1", "sku": "SMALL-TABLE", "qty": 3})

    assert r.status_code == 201
    assert r.json["batchref"] == "batch1"


def test_unhappy_path_returns_400_and_error_message():
    client = flask_app.app.test_client()
    r = client.post("/allocate", json={"orderid": "o2", "sku": "UNKNOWN", "qty": 20})
    assert r.status_code == 400
    assert r.json["message"] == "Invalid sku UNKNOWN"


def test_the_same_references_again():
    client = flask_app.app.test_client()
    post_to_add_batch(client, "batch1", "SMALL-TABLE", 10, None)
    r = client.post("/allocate", json={"orderid": "o1", "sku": "SMALL-TABLE", "qty": 10})
    assert r.json["batchref"] == "batch1"
    r = client.post("/allocate", json={"orderid": "o3", "sku": "SMALL-TABLE", "qty": 1})
    assert r.status_code == 400  # out of stock: only this test's batch is there
