import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from webapp import app, engine, where

client = TestClient(app)


@pytest.mark.parametrize("n", range(4))
def test_a_commit_through_the_dependency_stays_in_the_test(n):
    assert client.get("/users").json() == []
    assert client.post("/users", params={"email": f"user{n}@example.com"}).status_code == 201
    assert client.get("/users").json() == [f"user{n}@example.com"]


def test_an_integrity_error_inside_the_app_behaves_as_in_production():
    assert client.post("/users", params={"email": "a@example.com"}).status_code == 201
    assert client.post("/users", params={"email": "a@example.com"}).status_code == 409
    assert client.post("/users", params={"email": "b@example.com"}).status_code == 201
    assert client.get("/users").json() == ["a@example.com", "b@example.com"]


def test_a_flushed_then_rolled_back_session_leaves_nothing():
    client.post("/users/abandoned", params={"email": "gone@example.com"})
    assert client.get("/users").json() == []


def test_engine_begin_and_an_engine_built_in_the_test_join_it_too():
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (email) VALUES ('begin@example.com')"))
    per_call = create_engine(engine.url)
    with per_call.begin() as connection:
        connection.execute(text("INSERT INTO users (email) VALUES ('call@example.com')"))
    per_call.dispose()
    assert client.get("/users").json() == ["begin@example.com", "call@example.com"]


def test_the_tests_own_session_sees_what_the_app_committed(uow_session):
    client.post("/users", params={"email": "seen@example.com"})
    assert uow_session.execute(text("SELECT email FROM users")).scalars().all() == [
        "seen@example.com"
    ]


def test_the_apps_engine_reaches_the_worker_namespace(uow_database_url, uow_schema):
    assert where() == (make_url(uow_database_url).database, uow_schema)
