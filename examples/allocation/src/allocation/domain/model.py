"""The allocation domain: batches of stock, order lines, and the Product aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


class OutOfStock(Exception):
    pass


@dataclass(unsafe_hash=True)
class OrderLine:
    orderid: str
    sku: str
    qty: int


class Batch:
    def __init__(self, ref: str, sku: str, qty: int, eta: date | None) -> None:
        self.reference = ref
        self.sku = sku
        self.eta = eta
        self._purchased_quantity = qty
        self._allocations: set[OrderLine] = set()

    def __repr__(self) -> str:
        return f"<Batch {self.reference}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Batch) and other.reference == self.reference

    def __hash__(self) -> int:
        return hash(self.reference)

    def __gt__(self, other: Batch) -> bool:
        if self.eta is None:
            return False
        if other.eta is None:
            return True
        return self.eta > other.eta

    def allocate(self, line: OrderLine) -> None:
        if self.can_allocate(line):
            self._allocations.add(line)

    def deallocate(self, line: OrderLine) -> None:
        self._allocations.discard(line)

    def deallocate_one(self) -> OrderLine:
        return self._allocations.pop()

    @property
    def allocated_quantity(self) -> int:
        return sum(line.qty for line in self._allocations)

    @property
    def available_quantity(self) -> int:
        return self._purchased_quantity - self.allocated_quantity

    def can_allocate(self, line: OrderLine) -> bool:
        return self.sku == line.sku and self.available_quantity >= line.qty


class Product:
    """The aggregate: all batches of one SKU, guarded by a version number."""

    def __init__(self, sku: str, batches: list[Batch], version_number: int = 0) -> None:
        self.sku = sku
        self.batches = batches
        self.version_number = version_number

    def allocate(self, line: OrderLine) -> str:
        """Allocate to the earliest batch that can take the line (warehouse stock first)."""
        try:
            batch = next(b for b in sorted(self.batches) if b.can_allocate(line))
        except StopIteration:
            raise OutOfStock(f"Out of stock for sku {line.sku}") from None
        batch.allocate(line)
        self.version_number += 1
        return batch.reference

    def deallocate(self, line: OrderLine) -> None:
        for batch in self.batches:
            batch.deallocate(line)
        self.version_number += 1

    def change_batch_quantity(self, ref: str, qty: int) -> list[OrderLine]:
        """Shrink or grow a batch; lines that no longer fit are taken off it and returned."""
        batch = next(b for b in self.batches if b.reference == ref)
        batch._purchased_quantity = qty
        removed = []
        while batch.available_quantity < 0:
            removed.append(batch.deallocate_one())
        self.version_number += 1
        return removed
