"""The HTTP API: each request builds its own Unit of Work with the default session factory."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import text

from allocation.domain import model
from allocation.service_layer import services, unit_of_work


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/batches")
    def add_batch() -> Any:
        body = request.get_json()
        eta = date.fromisoformat(body["eta"]) if body.get("eta") else None
        services.add_batch(
            body["ref"], body["sku"], body["qty"], eta, unit_of_work.SqlAlchemyUnitOfWork()
        )
        return "OK", 201

    @app.post("/allocate")
    def allocate() -> Any:
        body = request.get_json()
        try:
            batchref = services.allocate(
                body["orderid"], body["sku"], body["qty"], unit_of_work.SqlAlchemyUnitOfWork()
            )
        except (model.OutOfStock, services.InvalidSku) as error:
            return jsonify({"message": str(error)}), 400
        return jsonify({"batchref": batchref}), 201

    @app.get("/allocations/<orderid>")
    def allocations_view(orderid: str) -> Any:
        uow = unit_of_work.SqlAlchemyUnitOfWork()
        with uow:
            rows = uow.session.execute(
                text(  # type: ignore[attr-defined]
                    "SELECT ol.sku, b.reference FROM allocations a "
                    "JOIN order_lines ol ON ol.id = a.orderline_id "
                    "JOIN batches b ON b.id = a.batch_id WHERE ol.orderid = :orderid "
                    "ORDER BY ol.sku"
                ),
                {"orderid": orderid},
            ).all()
        if not rows:
            return "not found", 404
        return jsonify([{"sku": sku, "batchref": ref} for sku, ref in rows]), 200

    return app


if __name__ == "__main__":  # the e2e tests run the app as a real server in a child process
    import sys

    create_app().run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
