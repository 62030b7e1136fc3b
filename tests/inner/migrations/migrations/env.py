"""Alembic's documented env.py pattern: use the connection a caller hands over, if any."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config

if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def run_migrations_online():
    connectable = config.attributes.get("connection", None)
    if connectable is None:
        engine = engine_from_config(
            dict(config.get_section(config.config_ini_section) or {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        with engine.connect() as connection:
            context.configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    else:
        context.configure(connection=connectable)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
