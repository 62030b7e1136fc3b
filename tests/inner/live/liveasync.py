"""The async app's service behind FastAPI: async endpoints, an async_sessionmaker."""

from typing import Any

from app import add_item, names
from fastapi import FastAPI

api = FastAPI()


@api.post("/items", status_code=201)
async def post_item(body: dict[str, Any]):
    await add_item(body["name"])
    return {"names": await names()}


@api.get("/items")
async def get_items():
    return {"names": await names()}
