import os

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    if os.environ.get("MIGRATION_LOG"):  # so that tests can count migration runs
        with open(os.environ["MIGRATION_LOG"], "a") as log:
            log.write(revision + "\n")
    op.create_table(
        "countries",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("code", sa.String(2), nullable=False, unique=True),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("country_id", sa.Integer, sa.ForeignKey("countries.id")),
    )


def downgrade():
    op.drop_table("customers")
    op.drop_table("countries")
