"""The service layer: use cases, each one Unit of Work."""

from __future__ import annotations

from datetime import date

from allocation.domain import model
from allocation.service_layer.unit_of_work import AbstractUnitOfWork


class InvalidSku(Exception):
    pass


def add_batch(ref: str, sku: str, qty: int, eta: date | None, uow: AbstractUnitOfWork) -> None:
    with uow:
        product = uow.products.get(sku)
        if product is None:
            product = model.Product(sku, batches=[])
            uow.products.add(product)
        product.batches.append(model.Batch(ref, sku, qty, eta))
        uow.commit()


def allocate(orderid: str, sku: str, qty: int, uow: AbstractUnitOfWork) -> str:
    line = model.OrderLine(orderid, sku, qty)
    with uow:
        product = uow.products.get(line.sku)
        if product is None:
            raise InvalidSku(f"Invalid sku {line.sku}")
        batchref = product.allocate(line)
        uow.commit()
    return batchref


def deallocate(orderid: str, sku: str, qty: int, uow: AbstractUnitOfWork) -> None:
    with uow:
        product = uow.products.get(sku)
        if product is None:
            raise InvalidSku(f"Invalid sku {sku}")
        product.deallocate(model.OrderLine(orderid, sku, qty))
        uow.commit()


def change_batch_quantity(ref: str, sku: str, qty: int, uow: AbstractUnitOfWork) -> None:
    """Change a batch's quantity and reallocate the lines that no longer fit."""
    with uow:
        product = uow.products.get(sku)
        if product is None:
            raise InvalidSku(f"Invalid sku {sku}")
        for line in product.change_batch_quantity(ref, qty):
            product.allocate(line)
        uow.commit()
