import os

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

countries = sa.table("countries", sa.column("code", sa.String))


def upgrade():
    if os.environ.get("MIGRATION_LOG"):  # so that tests can count migration runs
        with open(os.environ["MIGRATION_LOG"], "a") as log:
            log.write(revision + "\n")
    op.bulk_insert(countries, [{"code": "FR"}, {"code": "DE"}])


def downgrade():
    op.execute("DELETE FROM countries")
