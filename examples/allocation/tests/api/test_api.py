"""The Flask API through its test client: each request's own SqlAlchemyUnitOfWork(), with its
import-time default factory, is re-bound by the plugin and rolled back after the test."""

import pytest
from allocation.entrypoints.flask_app import create_app


# --8<-- [start:api]
@pytest.fixture
def client():
    return create_app().test_client()


def post_batch(client, ref, sku, qty, eta=None):
    response = client.post("/batches", json={"ref": ref, "sku": sku, "qty": qty, "eta": eta})
    assert response.status_code == 201


def test_happy_path_returns_201_and_allocated_batch(client):
    post_batch(client, "batch-later", "SKU-LAMP", 100, "2011-01-02")
    post_batch(client, "batch-early", "SKU-LAMP", 100, "2011-01-01")
    post_batch(client, "batch-other", "SKU-OTHER", 100)

    response = client.post("/allocate", json={"orderid": "order-1", "sku": "SKU-LAMP", "qty": 3})

    assert response.status_code == 201
    assert response.get_json() == {"batchref": "batch-early"}
    view = client.get("/allocations/order-1")
    assert view.get_json() == [{"sku": "SKU-LAMP", "batchref": "batch-early"}]
    # --8<-- [end:api]


def test_unhappy_path_returns_400_and_error_message(client):
    response = client.post("/allocate", json={"orderid": "order-1", "sku": "SKU-NOPE", "qty": 3})

    assert response.status_code == 400
    assert response.get_json() == {"message": "Invalid sku SKU-NOPE"}


@pytest.mark.parametrize("attempt", range(3))
def test_same_references_every_time(client, attempt):
    """Fixed SKUs and references: only the plugin's isolation keeps these apart."""
    post_batch(client, "batch-1", "SKU-LAMP", 10)
    response = client.post("/allocate", json={"orderid": "order-1", "sku": "SKU-LAMP", "qty": 10})
    assert response.get_json() == {"batchref": "batch-1"}
    assert client.get("/allocations/order-1").status_code == 200
