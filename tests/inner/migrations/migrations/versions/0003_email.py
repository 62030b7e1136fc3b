import os

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    if os.environ.get("MIGRATION_LOG"):  # so that tests can count migration runs
        with open(os.environ["MIGRATION_LOG"], "a") as log:
            log.write(revision + "\n")
    if os.environ.get("BREAK_MIGRATION"):
        op.execute("ALTER TABLE no_such_table ADD COLUMN email text")
    if os.environ.get("MIGRATE_INTO_PUBLIC"):
        op.execute(f"CREATE TABLE public.{os.environ['MIGRATE_INTO_PUBLIC']} (id int)")
    op.add_column("customers", sa.Column("email", sa.String(100)))
    if os.environ.get("NAME_THE_SCHEMA"):
        schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar()
        op.execute(f"COMMENT ON TABLE {schema}.customers IS 'our customers'")


def downgrade():
    op.drop_column("customers", "email")
