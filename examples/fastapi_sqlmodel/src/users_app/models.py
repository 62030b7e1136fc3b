"""The tables, as SQLModel models; the migrations create them."""

import uuid

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class UserCreate(SQLModel):
    email: str = Field(max_length=255)
    full_name: str | None = Field(default=None, max_length=255)


class User(UserCreate, table=True):
    id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Uuid(), primary_key=True, server_default=sa.text("uuid_generate_v4()")
        ),
    )
    email: str = Field(max_length=255, sa_column_kwargs={"unique": True})
    is_superuser: bool = Field(default=False)
