"""The application's settings, from the environment as in production."""

import os

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/users")
FIRST_SUPERUSER = os.environ.get("FIRST_SUPERUSER", "admin@example.com")
