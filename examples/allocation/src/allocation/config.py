"""Configuration from the environment, as in production."""

from __future__ import annotations

import os


def get_postgres_uri() -> str:
    return os.environ.get(
        "DATABASE_URL", "postgresql+psycopg2://allocation@127.0.0.1:5432/allocation"
    )
