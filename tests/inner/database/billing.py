"""An application whose models name their own schemas: ``billing`` beside ``public``. The
``EXTRA_COLUMN`` variable adds a column, as a change to the models would."""

import os

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

metadata = MetaData()
customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    *([Column(os.environ["EXTRA_COLUMN"], Integer)] if os.environ.get("EXTRA_COLUMN") else []),
)
invoices = Table(
    "invoices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("amount", Integer, nullable=False),
    schema="billing",
)
