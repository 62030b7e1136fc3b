"""The project's service behind FastAPI: sync endpoints (run in FastAPI's thread pool)."""

from typing import Any

from app import SqlAlchemyUnitOfWork, add_batch, count_batches
from fastapi import FastAPI

app = FastAPI()


@app.post("/batches", status_code=201)
def post_batch(body: dict[str, Any]):
    add_batch(body["reference"], body["qty"], SqlAlchemyUnitOfWork())
    return {"count": count_batches(SqlAlchemyUnitOfWork())}


@app.get("/count")
def count():
    return {"count": count_batches(SqlAlchemyUnitOfWork())}
