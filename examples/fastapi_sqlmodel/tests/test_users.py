"""The API through ``Depends(get_db)``, and the database through the suite's own session: both
reach the worker's schema, and every test starts from the seeded superuser alone."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from users_app import settings
from users_app.models import User


def emails(client: TestClient) -> list[str]:
    response = client.get("/users")
    assert response.status_code == 200
    return [user["email"] for user in response.json()]


@pytest.fixture(autouse=True)
def starts_from_the_seed(client: TestClient) -> None:
    assert emails(client) == [settings.FIRST_SUPERUSER]


def test_the_seed_made_the_first_superuser(db: Session) -> None:
    admin = db.exec(select(User).where(User.email == settings.FIRST_SUPERUSER)).one()
    assert admin.is_superuser
    assert uuid.UUID(str(admin.id)).version == 4, "uuid-ossp's uuid_generate_v4() keyed it"


# --8<-- [start:created]
def test_a_created_user_is_read_back(client: TestClient, db: Session) -> None:
    response = client.post("/users", json={"email": "ada@example.com", "full_name": "Ada"})

    assert response.status_code == 201
    user_id = response.json()["id"]
    assert client.get(f"/users/{user_id}").json()["full_name"] == "Ada"
    # The suite's own session sees what the API committed: the same transaction.
    assert db.get(User, uuid.UUID(user_id)) is not None


# --8<-- [end:created]


def test_an_email_is_taken_once(client: TestClient) -> None:
    assert client.post("/users", json={"email": "grace@example.com"}).status_code == 201

    response = client.post("/users", json={"email": "grace@example.com"})

    assert response.status_code == 409
    assert emails(client) == [settings.FIRST_SUPERUSER, "grace@example.com"]


def test_deleting_the_superuser_lasts_one_test(client: TestClient, db: Session) -> None:
    admin = db.exec(select(User).where(User.email == settings.FIRST_SUPERUSER)).one()

    assert client.delete(f"/users/{admin.id}").status_code == 204

    assert emails(client) == []


@pytest.mark.parametrize("email", ["a@example.com", "b@example.com", "c@example.com"])
def test_users_made_by_one_test_are_not_seen_by_another(client: TestClient, email: str) -> None:
    assert client.post("/users", json={"email": email}).status_code == 201
    assert emails(client) == sorted([settings.FIRST_SUPERUSER, email])
