"""End to end: the app as a real HTTP server in a child process, one per xdist worker, pointed
at the worker's schema through uow_database_url. Its commits are real, so these tests use the
truncate strategy."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

SRC = Path(__file__).parents[2] / "src"
pytestmark = pytest.mark.uow(strategy="truncate")


@pytest.fixture(scope="session")
def server(uow_database_url):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "allocation.entrypoints.flask_app", str(port)],
        env=dict(os.environ, DATABASE_URL=uow_database_url, PYTHONPATH=str(SRC)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{url}/allocations/none", timeout=1)
        except urllib.error.HTTPError:
            break  # a 404 from the app: it is serving
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the allocation server did not start") from None
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(10)


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("attempt", range(2))
def test_allocate_through_the_real_server(server, uow_session, attempt):
    assert (
        call(
            "POST",
            f"{server}/batches",
            {"ref": "batch-1", "sku": "SKU-CHAIR", "qty": 10, "eta": None},
        )[0]
        == 201
    )
    status, body = call(
        "POST", f"{server}/allocate", {"orderid": "order-1", "sku": "SKU-CHAIR", "qty": 4}
    )
    assert (status, json.loads(body)) == (201, {"batchref": "batch-1"})
    # The server's commits are real: the test's own session sees them.
    qty = uow_session.execute(text("SELECT sum(qty) FROM order_lines")).scalar_one()
    assert qty == 4


def test_out_of_stock_through_the_real_server(server):
    call("POST", f"{server}/batches", {"ref": "batch-1", "sku": "SKU-DESK", "qty": 1, "eta": None})
    status, body = call(
        "POST", f"{server}/allocate", {"orderid": "order-1", "sku": "SKU-DESK", "qty": 5}
    )
    assert (status, json.loads(body)) == (400, {"message": "Out of stock for sku SKU-DESK"})
