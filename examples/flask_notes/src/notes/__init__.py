"""A small notebook service, written as Flask-SQLAlchemy's documentation writes apps."""

from notes.app import create_app

__all__ = ["create_app"]
