"""The API through Flask's test client; no test cleans up after itself."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_create_and_list_notebooks(client: FlaskClient) -> None:
    assert client.post("/notebooks", json={"name": "work"}).status_code == 201
    assert client.post("/notebooks", json={"name": "home"}).status_code == 201
    assert client.get("/notebooks").json == ["home", "work"]


def test_a_duplicate_name_is_refused_and_the_first_kept(client: FlaskClient) -> None:
    client.post("/notebooks", json={"name": "work"})
    response = client.post("/notebooks", json={"name": "work"})
    assert response.status_code == 409  # the app rolled back its own failed commit
    assert client.get("/notebooks").json == ["work"]


def test_notes_belong_to_their_notebook(client: FlaskClient) -> None:
    notebook = client.post("/notebooks", json={"name": "ideas"}).json["id"]
    client.post(f"/notebooks/{notebook}/notes", json={"body": "first"})
    response = client.post(f"/notebooks/{notebook}/notes", json={"body": "second"})
    assert response.json["notes"] == 2
    assert client.get(f"/notebooks/{notebook}/notes").json == ["first", "second"]


def test_every_test_starts_with_no_notebooks(client: FlaskClient) -> None:
    assert client.get("/notebooks").json == []
    assert client.get("/notebooks/1/notes").status_code == 404
