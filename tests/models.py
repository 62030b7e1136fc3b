"""The tables of this suite's own database tests: the outer run uses the plugin on itself for
the behaviour that needs no fresh pytest process (see ``test_sessions.py``)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(50), unique=True, nullable=False),
    Column("qty", Integer, nullable=False),
)
