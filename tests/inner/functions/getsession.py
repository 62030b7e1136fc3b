"""An application whose sessions come from functions that build their engine on every call,
from the application's own configuration."""

import os

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session


class AppSession(Session):
    """The application's own session class (SQLModel's ``Session`` is one)."""

    def count(self):
        return self.execute(text("SELECT count(*) FROM batches")).scalar_one()


def get_session():
    return AppSession(create_engine(os.environ["APP_URL"], isolation_level="REPEATABLE READ"))


def session_dependency():
    """A FastAPI-style dependency: the session, then a commit once the endpoint returned."""
    with get_session() as session:
        yield session
        session.commit()
