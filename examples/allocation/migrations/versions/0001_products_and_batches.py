"""Products and their batches.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("sku", sa.String(255), primary_key=True),
        sa.Column("version_number", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reference", sa.String(255), unique=True),
        sa.Column("sku", sa.String(255), sa.ForeignKey("products.sku")),
        sa.Column("_purchased_quantity", sa.Integer, nullable=False),
        sa.Column("eta", sa.Date, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("batches")
    op.drop_table("products")
