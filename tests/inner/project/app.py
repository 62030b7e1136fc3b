"""A small Cosmic-Python-style application: the shape that defeats other plugins."""

import os

from flask import Flask, jsonify, request
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, select
from sqlalchemy.orm import sessionmaker

metadata = MetaData()
batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(50), unique=True, nullable=False),
    Column("qty", Integer, nullable=False),
)

# Built at import time from the application's own configuration, as in production.
engine = create_engine(
    os.environ.get("APP_DATABASE_URL", "postgresql+psycopg2://app@127.0.0.1:1/app"),
    isolation_level=os.environ.get("APP_ISOLATION", "REPEATABLE READ"),
)
DEFAULT_SESSION_FACTORY = sessionmaker(bind=engine, expire_on_commit=False)


class SqlAlchemyUnitOfWork:
    def __init__(self, session_factory=DEFAULT_SESSION_FACTORY):
        self.session_factory = session_factory

    def __enter__(self):
        self.session = self.session_factory()
        return self

    def __exit__(self, *args):
        self.session.rollback()
        self.session.close()

    def commit(self):
        self.session.commit()

    def rollback(self):
        self.session.rollback()


def add_batch(reference, qty, uow):
    with uow:
        uow.session.execute(batches.insert().values(reference=reference, qty=qty))
        uow.commit()


def count_batches(uow):
    with uow:
        return uow.session.execute(select(func.count()).select_from(batches)).scalar_one()


def create_app():
    app = Flask(__name__)

    @app.post("/batches")
    def post_batch():
        body = request.get_json()
        add_batch(body["reference"], body["qty"], SqlAlchemyUnitOfWork())
        return jsonify(count=count_batches(SqlAlchemyUnitOfWork())), 201

    return app
