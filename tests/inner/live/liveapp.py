"""The project's Flask app, plus what the live-server tests need: a count, and a slow view."""

import os

from app import DEFAULT_SESSION_FACTORY, SqlAlchemyUnitOfWork, count_batches, create_app
from flask import jsonify
from sqlalchemy import text


def create_live_app():
    app = create_app()

    @app.get("/count")
    def count():
        return jsonify(count=count_batches(SqlAlchemyUnitOfWork()))

    @app.get("/slow")
    def slow():
        with DEFAULT_SESSION_FACTORY() as session:
            session.execute(text("SELECT pg_sleep(:s)"), {"s": float(os.environ["SLOW"])})
        return "done"

    return app
