from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func

from notes.extensions import db


class Notebook(db.Model):  # type: ignore[name-defined,misc]
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), unique=True, nullable=False)
    notes = db.relationship("Note", back_populates="notebook", order_by="Note.id")


class Note(db.Model):  # type: ignore[name-defined,misc]
    id = db.Column(db.Integer, primary_key=True)
    notebook_id = db.Column(db.ForeignKey("notebook.id"), nullable=False)
    body = db.Column(db.String, nullable=False)
    created = db.Column(
        db.DateTime(timezone=True),
        default=lambda: datetime.now(timezone.utc),
        server_default=func.now(),
        nullable=False,
    )
    notebook = db.relationship("Notebook", back_populates="notes")
