"""A FastAPI application as templates write it: a module-level engine on the application's own
database URL, and ``Depends(get_db)`` yielding ``Session(engine)``. Nothing names it to
pytest-uow."""

import os
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import Column, Integer, String, create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, declarative_base

engine = create_engine(os.environ["APP_URL"], isolation_level="REPEATABLE READ")


Base = declarative_base()  # the spelling SQLAlchemy 1.4 and 2.x share


class User(Base):  # type: ignore[valid-type,misc]  # a base made at run time
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String(100), unique=True)


def get_db():
    with Session(engine) as session:
        yield session


Database = Annotated[Session, Depends(get_db)]
app = FastAPI()


@app.post("/users", status_code=201)
def create_user(email: str, db: Database):
    db.add(User(email=email))
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, "taken") from None
    return {"email": email}


@app.post("/users/abandoned")
def flush_then_roll_back(email: str, db: Database):
    db.add(User(email=email))
    db.flush()
    db.rollback()
    return {}


@app.get("/users")
def list_users(db: Database):
    return [user.email for user in db.scalars(select(User).order_by(User.email))]


def where():
    """The database and schema the application's engine reaches."""
    with engine.connect() as connection:
        return connection.execute(text("SELECT current_database(), current_schema()")).one()
