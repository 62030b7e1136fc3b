from datetime import date, timedelta

import pytest
from allocation.domain.model import Batch, OrderLine, OutOfStock, Product

today = date.today()
tomorrow, later = today + timedelta(days=1), today + timedelta(days=10)


def test_prefers_warehouse_stock_to_shipments():
    in_stock = Batch("in-stock", "RETRO-CLOCK", 100, eta=None)
    shipment = Batch("shipment", "RETRO-CLOCK", 100, eta=tomorrow)
    product = Product("RETRO-CLOCK", [shipment, in_stock])

    assert product.allocate(OrderLine("oref", "RETRO-CLOCK", 10)) == "in-stock"
    assert (in_stock.available_quantity, shipment.available_quantity) == (90, 100)


def test_prefers_earlier_batches():
    earliest = Batch("speedy", "MINIMALIST-SPOON", 100, eta=today)
    latest = Batch("slow", "MINIMALIST-SPOON", 100, eta=later)
    medium = Batch("normal", "MINIMALIST-SPOON", 100, eta=tomorrow)
    product = Product("MINIMALIST-SPOON", [medium, latest, earliest])

    assert product.allocate(OrderLine("order1", "MINIMALIST-SPOON", 10)) == "speedy"


def test_raises_out_of_stock_and_keeps_the_version():
    product = Product("SMALL-FORK", [Batch("b1", "SMALL-FORK", 10, eta=today)])
    product.allocate(OrderLine("order1", "SMALL-FORK", 10))

    with pytest.raises(OutOfStock, match="SMALL-FORK"):
        product.allocate(OrderLine("order2", "SMALL-FORK", 1))
    assert product.version_number == 1


def test_changing_quantity_deallocates_what_no_longer_fits():
    batch = Batch("b1", "ADORABLE-SETTEE", 20, eta=None)
    product = Product("ADORABLE-SETTEE", [batch])
    product.allocate(OrderLine("o1", "ADORABLE-SETTEE", 20))

    removed = product.change_batch_quantity("b1", 10)

    assert removed == [OrderLine("o1", "ADORABLE-SETTEE", 20)]
    assert batch.available_quantity == 10
