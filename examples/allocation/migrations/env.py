"""Alembic's environment for the allocation service, as `alembic init` writes it, with the
database URL taken from the app's configuration, and the documented hook for callers that hand
over a connection of their own (pytest-uow does)."""

from logging.config import fileConfig

from alembic import context
from allocation import config as app_config
from allocation.adapters import orm
from sqlalchemy import create_engine, pool

config = context.config

if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = orm.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=app_config.get_postgres_uri(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection", None)
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(app_config.get_postgres_uri(), poolclass=pool.NullPool)
    with engine.connect() as own_connection:
        context.configure(connection=own_connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
