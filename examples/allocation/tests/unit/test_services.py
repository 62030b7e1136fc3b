"""The service layer against a fake Unit of Work: no database at all."""

import pytest
from allocation.adapters.repository import AbstractRepository
from allocation.domain.model import Product
from allocation.service_layer import services
from allocation.service_layer.unit_of_work import AbstractUnitOfWork


class FakeRepository(AbstractRepository):
    def __init__(self, products=()):
        super().__init__()
        self._products = set(products)

    def _add(self, product):
        self._products.add(product)

    def _get(self, sku):
        return next((p for p in self._products if p.sku == sku), None)


class FakeUnitOfWork(AbstractUnitOfWork):
    def __init__(self):
        self.products = FakeRepository()
        self.committed = False

    def commit(self):
        self.committed = True

    def rollback(self):
        pass


def test_add_batch_for_a_new_product():
    uow = FakeUnitOfWork()
    services.add_batch("b1", "CRUNCHY-ARMCHAIR", 100, None, uow)
    assert isinstance(uow.products.get("CRUNCHY-ARMCHAIR"), Product)
    assert uow.committed


def test_allocate_returns_the_batch_and_commits():
    uow = FakeUnitOfWork()
    services.add_batch("batch1", "COMPLICATED-LAMP", 100, None, uow)
    assert services.allocate("o1", "COMPLICATED-LAMP", 10, uow) == "batch1"
    assert uow.committed


def test_allocate_errors_for_an_invalid_sku():
    uow = FakeUnitOfWork()
    services.add_batch("b1", "AREALSKU", 100, None, uow)
    with pytest.raises(services.InvalidSku, match="Invalid sku NONEXISTENTSKU"):
        services.allocate("o1", "NONEXISTENTSKU", 10, uow)


def test_change_batch_quantity_reallocates_to_another_batch():
    uow = FakeUnitOfWork()
    services.add_batch("b1", "INDIFFERENT-TABLE", 50, None, uow)
    services.add_batch("b2", "INDIFFERENT-TABLE", 50, None, uow)
    services.allocate("o1", "INDIFFERENT-TABLE", 40, uow)

    services.change_batch_quantity("b1", "INDIFFERENT-TABLE", 10, uow)

    [b1, b2] = uow.products.get("INDIFFERENT-TABLE").batches
    assert (b1.available_quantity, b2.available_quantity) == (10, 10)
