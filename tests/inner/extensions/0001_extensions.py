"""Extensions as applications' migrations create and use them: uuid-ossp for keys, pgcrypto for a
digest, citext for e-mail addresses, pg_trgm for a search index; and a downgrade that drops them."""

import os

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import CITEXT, UUID

revision = "0001"
down_revision = None

EXTENSIONS = ["uuid-ossp", "pgcrypto", "citext", "pg_trgm"]


def upgrade():
    for extension in EXTENSIONS:
        op.execute(f'CREATE EXTENSION IF NOT EXISTS "{extension}"')
    op.create_table(
        "users",
        sa.Column(
            "id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("uuid_generate_v4()")
        ),
        sa.Column("email", CITEXT, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column(
            "token", sa.Text, server_default=sa.text("encode(digest('seed', 'sha256'), 'hex')")
        ),
    )
    op.create_index(
        "users_name_trigrams",
        "users",
        ["name"],
        postgresql_using="gist",
        postgresql_ops={"name": "gist_trgm_ops"},
    )
    if os.environ.get("BREAK_EXTENSION_MIGRATION"):
        op.execute("INSERT INTO users (email, name) VALUES (uuid_generate_v99(), 'never')")
    op.execute("INSERT INTO users (email, name) VALUES ('Ada@Example.org', 'Ada Lovelace')")


def downgrade():
    op.drop_index("users_name_trigrams", "users")
    op.drop_table("users")
    for extension in reversed(EXTENSIONS):
        op.execute(f'DROP EXTENSION IF EXISTS "{extension}"')
