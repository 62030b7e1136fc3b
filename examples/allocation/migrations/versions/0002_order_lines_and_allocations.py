"""Order lines, and which batch each is allocated to.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sku", sa.String(255)),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("orderid", sa.String(255)),
    )
    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("orderline_id", sa.Integer, sa.ForeignKey("order_lines.id")),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id")),
    )


def downgrade() -> None:
    op.drop_table("allocations")
    op.drop_table("order_lines")
