"""The HTTP API: every request gets its own Unit of Work, from the app's own session factory."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from pydantic import BaseModel

from shop import services
from shop.unit_of_work import AbstractUnitOfWork, SqlAlchemyUnitOfWork

app = FastAPI()


@app.middleware("http")
async def timed(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Starlette runs the endpoint in a child task of the middleware's: under pytest-uow's
    rollback strategy it takes its turn on the test's connection."""
    started = time.perf_counter()
    response = await call_next(request)
    response.headers["x-process-time"] = f"{time.perf_counter() - started:.4f}"
    return response


def unit_of_work() -> AbstractUnitOfWork:
    return SqlAlchemyUnitOfWork()


UnitOfWork = Annotated[AbstractUnitOfWork, Depends(unit_of_work)]


class NewProduct(BaseModel):
    sku: str
    stock: int


class NewOrder(BaseModel):
    sku: str
    quantity: int


@app.post("/products", status_code=201)
async def add_product(body: NewProduct, uow: UnitOfWork) -> dict[str, str]:
    await services.add_product(body.sku, body.stock, uow)
    return {"sku": body.sku}


@app.post("/orders", status_code=201)
async def place_order(body: NewOrder, uow: UnitOfWork) -> dict[str, int]:
    try:
        left = await services.place_order(body.sku, body.quantity, uow)
    except services.UnknownProduct:
        raise HTTPException(404, f"unknown product {body.sku}") from None
    except services.OutOfStock:
        raise HTTPException(409, f"out of stock: {body.sku}") from None
    return {"stock": left}


@app.get("/products/{sku}")
async def product(sku: str, uow: UnitOfWork) -> dict[str, int]:
    try:
        return {"stock": await services.stock_of(sku, uow)}
    except services.UnknownProduct:
        raise HTTPException(404, f"unknown product {sku}") from None
