from __future__ import annotations

import os
from typing import Any

from flask import Flask, abort, request
from sqlalchemy.exc import IntegrityError

from notes.extensions import db
from notes.models import Note, Notebook


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
        "NOTES_DATABASE_URL", "postgresql+psycopg2://notes@127.0.0.1:5432/notes"
    )
    app.config.update(config or {})
    db.init_app(app)

    @app.post("/notebooks")
    def create_notebook() -> tuple[dict[str, Any], int]:
        notebook = Notebook(name=request.json["name"])
        db.session.add(notebook)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return {"error": f"a notebook named {notebook.name} exists"}, 409
        return {"id": notebook.id, "name": notebook.name}, 201

    @app.get("/notebooks")
    def list_notebooks() -> list[str]:
        return [notebook.name for notebook in Notebook.query.order_by(Notebook.name)]

    @app.post("/notebooks/<int:notebook_id>/notes")
    def add_note(notebook_id: int) -> tuple[dict[str, Any], int]:
        notebook = db.get_or_404(Notebook, notebook_id)
        note = Note(notebook=notebook, body=request.json["body"])
        db.session.add(note)
        db.session.commit()
        return {"id": note.id, "notes": len(notebook.notes)}, 201

    @app.get("/notebooks/<int:notebook_id>/notes")
    def list_notes(notebook_id: int) -> list[str]:
        notebook = db.session.get(Notebook, notebook_id) or abort(404)
        return [note.body for note in notebook.notes]

    return app
