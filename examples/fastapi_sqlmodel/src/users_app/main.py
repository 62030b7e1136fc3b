"""The HTTP API: each route takes its session through ``Depends(get_db)`` and commits."""

import uuid
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from users_app.db import get_db
from users_app.models import User, UserCreate

app = FastAPI(title="users")
SessionDep = Annotated[Session, Depends(get_db)]


@app.post("/users", status_code=201)
def create_user(user_in: UserCreate, session: SessionDep) -> User:
    user = User.model_validate(user_in)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(409, f"{user_in.email} is taken") from None
    session.refresh(user)
    return user


@app.get("/users")
def list_users(session: SessionDep) -> list[User]:
    return list(session.exec(select(User).order_by(User.email)).all())


@app.get("/users/{user_id}")
def read_user(user_id: uuid.UUID, session: SessionDep) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    return user


@app.delete("/users/{user_id}", status_code=204)
def delete_user(user_id: uuid.UUID, session: SessionDep) -> None:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    session.delete(user)
    session.commit()
