from fastapi.testclient import TestClient
from webapp import app

client = TestClient(app)


def test_a_test_with_tables_of_its_own(fresh_tables):
    assert client.post("/users", params={"email": "fresh@example.com"}).status_code == 201
    assert client.get("/users").json() == ["fresh@example.com"]


def test_the_next_one_starts_empty(fresh_tables):
    assert client.get("/users").json() == []
