"""The same tables for ``uow_metadata``, whose extensions DDL events create."""

from sqlalchemy import DDL, Column, Index, MetaData, Table, Text, event, text
from sqlalchemy.dialects.postgresql import CITEXT, UUID

metadata = MetaData()
for extension in ("uuid-ossp", "pgcrypto", "citext", "pg_trgm"):
    event.listen(metadata, "before_create", DDL(f'CREATE EXTENSION IF NOT EXISTS "{extension}"'))

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("uuid_generate_v4()")),
    Column("email", CITEXT, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("token", Text, server_default=text("encode(digest('seed', 'sha256'), 'hex')")),
)
Index(
    "users_name_trigrams",
    users.c.name,
    postgresql_using="gist",
    postgresql_ops={"name": "gist_trgm_ops"},
)
event.listen(
    users,
    "after_create",
    DDL("INSERT INTO users (email, name) VALUES ('Ada@Example.org', 'Ada Lovelace')"),
)
