"""End to end through a child process: the app as a real HTTP server of its own, one per xdist
worker, pointed at the worker's schema through uow_database_url. Its commits are real, so this
test uses the truncate strategy. The route for servers that must be separate processes; the
other end-to-end tests use uow_live_server under rollback (test_live_server.py)."""

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
# --8<-- [start:module]
pytestmark = pytest.mark.uow(strategy="truncate")
# --8<-- [end:module]


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


def test_allocate_through_the_real_server(server, uow_session, call):
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
    assert (status, body) == (201, {"batchref": "batch-1"})
    # The server's commits are real: the test's own session sees them.
    qty = uow_session.execute(text("SELECT sum(qty) FROM order_lines")).scalar_one()
    assert qty == 4
