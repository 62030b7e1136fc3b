"""A Flask-SQLAlchemy application with an app factory, as its documentation writes one."""

import os

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import func, select, text

db = SQLAlchemy()


class Batch(db.Model):  # type: ignore[name-defined,misc]
    id = db.Column(db.Integer, primary_key=True)
    reference = db.Column(db.String, unique=True, nullable=False)


class Note(db.Model):  # type: ignore[name-defined,misc]
    __bind_key__ = "notes"
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.String, nullable=False)


def create_app():
    app = Flask(__name__)
    # The application's own databases, which the tests must never reach.
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["APP_URL"]
    app.config["SQLALCHEMY_BINDS"] = {"notes": os.environ["APP_URL"]}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"isolation_level": "REPEATABLE READ"}
    db.init_app(app)

    @app.post("/batches")
    def add_batch():
        db.session.add(Batch(reference=request.json["ref"]))
        db.session.commit()
        return {"ok": True}, 201

    @app.get("/batches")
    def list_batches():
        return jsonify([batch.reference for batch in Batch.query.order_by(Batch.reference)])

    @app.post("/notes")
    def add_note():
        db.session.add(Note(body=request.json["body"]))
        db.session.commit()
        return {"notes": db.session.scalar(select(func.count(Note.id)))}, 201

    @app.post("/core/batches")
    def add_batch_through_the_engine():
        with db.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO batch (reference) VALUES (:r)"), {"r": request.json["ref"]}
            )
        return {"ok": True}, 201

    @app.get("/core/count")
    def count_through_the_engine():
        with db.engine.connect() as connection:
            return {"batches": connection.execute(text("SELECT count(*) FROM batch")).scalar()}

    @app.get("/isolation")
    def isolation():
        return {"level": db.session.execute(text("SHOW transaction_isolation")).scalar_one()}

    return app
