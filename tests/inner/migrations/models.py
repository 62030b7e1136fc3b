"""The application's models: what the migrations build."""

import sqlalchemy as sa

metadata = sa.MetaData()

countries = sa.Table(
    "countries",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("code", sa.String(2), nullable=False, unique=True),
)
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("country_id", sa.Integer, sa.ForeignKey("countries.id")),
    sa.Column("email", sa.String(100)),
)
