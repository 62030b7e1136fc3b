"""End to end over real HTTP, under rollback: the app served by uow_live_server in a thread of
this worker, on this test's own connection. The server sees what the test set up, and what it
commits is rolled back after the test, so fixed references work every time."""

import pytest
from sqlalchemy import text


@pytest.mark.parametrize("attempt", range(2))
def test_allocate_through_the_live_server(uow_live_server, uow_session, call, attempt):
    status, _ = call(
        "POST",
        f"{uow_live_server}/batches",
        {"ref": "batch-1", "sku": "SKU-CHAIR", "qty": 10, "eta": None},
    )
    assert status == 201
    status, body = call(
        "POST", f"{uow_live_server}/allocate", {"orderid": "order-1", "sku": "SKU-CHAIR", "qty": 4}
    )
    assert (status, body) == (201, {"batchref": "batch-1"})
    # The server's commits are in the test's transaction: the test's own session sees them.
    assert uow_session.execute(text("SELECT sum(qty) FROM order_lines")).scalar_one() == 4


def test_out_of_stock_through_the_live_server(uow_live_server, call):
    call(
        "POST",
        f"{uow_live_server}/batches",
        {"ref": "batch-1", "sku": "SKU-DESK", "qty": 1, "eta": None},
    )
    status, body = call(
        "POST", f"{uow_live_server}/allocate", {"orderid": "order-1", "sku": "SKU-DESK", "qty": 5}
    )
    assert (status, body) == (400, {"message": "Out of stock for sku SKU-DESK"})


# --8<-- [start:live]
def test_the_server_sees_what_the_test_wrote(uow_live_server, uow_session, call):
    # Uncommitted, in the test's transaction: a server in another process could not see it.
    uow_session.execute(
        text(
            "INSERT INTO batches (reference, sku, _purchased_quantity) "
            "VALUES ('batch-seeded', 'CATALOGUE-LAMP', 5)"
        )
    )
    status, body = call(
        "POST",
        f"{uow_live_server}/allocate",
        {"orderid": "order-2", "sku": "CATALOGUE-LAMP", "qty": 2},
    )
    assert (status, body) == (201, {"batchref": "batch-seeded"})
    # --8<-- [end:live]
