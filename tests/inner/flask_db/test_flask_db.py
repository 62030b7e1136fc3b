import pytest
from flaskapp import Batch, db
from sqlalchemy import text


def test_views_commit_into_the_tests_isolation(client):
    assert client.post("/batches", json={"ref": "b1"}).status_code == 201
    assert client.post("/batches", json={"ref": "b2"}).status_code == 201
    assert client.get("/batches").json == ["b1", "b2"]


def test_a_second_bind_is_re_bound_too(client):
    assert client.post("/notes", json={"body": "hello"}).json == {"notes": 1}


def test_with_an_app_context_pushed_by_the_test(app):
    with app.app_context():
        db.session.add(Batch(reference="b3"))
        db.session.commit()
        assert Batch.query.count() == 1
        db.session.rollback()
        assert [batch.reference for batch in Batch.query] == ["b3"]


def test_sees_the_rows_the_test_wrote(client, uow_session):
    uow_session.execute(text("INSERT INTO batch (reference) VALUES ('from the test')"))
    uow_session.commit()
    assert client.get("/batches").json == ["from the test"]


def test_starts_empty(client):
    assert client.get("/batches").json == []
    assert client.post("/notes", json={"body": "again"}).json == {"notes": 1}


@pytest.mark.uow(strategy="truncate")
def test_under_truncate_views_commit_for_real(client, uow_engine):
    client.post("/batches", json={"ref": "b4"})
    with uow_engine.connect() as connection:
        assert connection.execute(text("SELECT reference FROM batch")).scalars().all() == ["b4"]
    # The isolation level the application's own engine asked for.
    assert client.get("/isolation").json == {"level": "repeatable read"}


@pytest.mark.uow(strategy="truncate")
def test_under_truncate_db_engine_connects_to_the_worker_namespace(client, uow_engine):
    assert client.post("/core/batches", json={"ref": "c1"}).status_code == 201
    assert client.get("/core/count").json == {"batches": 1}
    with uow_engine.connect() as connection:
        assert connection.execute(text("SELECT reference FROM batch")).scalars().all() == ["c1"]


@pytest.mark.uow(strategy="rollback")
def test_under_rollback_db_engine_joins_the_test(client, uow_session):
    # db.engine's URL names the application's own database: it is routed all the same, being
    # the engine of the extension the settings name.
    assert client.post("/core/batches", json={"ref": "c2"}).status_code == 201
    assert client.get("/core/count").json == {"batches": 1}
    assert uow_session.execute(text("SELECT reference FROM batch")).scalars().all() == ["c2"]
