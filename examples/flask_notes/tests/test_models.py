"""The models with an application context the test pushes, as Flask-SQLAlchemy's docs do."""

from __future__ import annotations

import pytest
from flask import Flask
from notes.extensions import db
from notes.models import Note, Notebook
from sqlalchemy import text
from sqlalchemy.engine import Engine


def test_a_note_gets_its_creation_time(app: Flask) -> None:
    with app.app_context():
        note = Note(notebook=Notebook(name="n"), body="b")
        db.session.add(note)
        db.session.commit()
        assert note.created is not None


def test_rollback_undoes_what_was_not_committed(app: Flask) -> None:
    with app.app_context():
        db.session.add(Notebook(name="kept"))
        db.session.commit()
        db.session.add(Notebook(name="dropped"))
        db.session.rollback()
        assert [n.name for n in Notebook.query] == ["kept"]


@pytest.mark.uow(strategy="truncate")
def test_another_connection_sees_what_a_truncate_test_commits(
    app: Flask, uow_engine: Engine
) -> None:
    with app.app_context():
        db.session.add(Notebook(name="shared"))
        db.session.commit()
    with uow_engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM notebook")).scalars().all()
    assert names == ["shared"]
