"""The throwaway PostgreSQL the plugin starts when no server is configured, used outside the
plugin: in a script or a benchmark. ``tests/plugin/test_server.py`` runs this file."""

from sqlalchemy import create_engine, text

import pytest_uow

# The URL is a SQLAlchemy URL string (psycopg2); the server is stopped and removed on leaving.
with pytest_uow.throwaway_server() as url, create_engine(url).connect() as connection:
    print(connection.execute(text("SELECT version()")).scalar_one())
