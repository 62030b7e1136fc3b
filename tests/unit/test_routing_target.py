"""Which connections are the configured database's, and where a routed one goes."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from pytest_uow.compat import SQLALCHEMY_2
from pytest_uow.routing.joined import OverriddenDialects
from pytest_uow.routing.target import DatabaseAddress, is_the_plugins, routed_params

CONFIGURED = DatabaseAddress.of_url(make_url("postgresql://postgres@127.0.0.1:5432/test"))


@pytest.mark.parametrize(
    "params",
    [
        {"host": "127.0.0.1", "port": 5432, "dbname": "test", "user": "postgres"},
        {"host": "localhost", "dbname": "test"},  # libpq's default port, another local name
        {"host": "::1", "port": "5432", "database": "test"},  # asyncpg's key
    ],
)
def test_the_same_server_and_database_by_any_driver_is_the_configured_one(
    params: dict[str, object],
) -> None:
    assert DatabaseAddress.of_params(params) == CONFIGURED


@pytest.mark.parametrize(
    "params",
    [
        {"host": "127.0.0.1", "port": 5432, "dbname": "other"},
        {"host": "127.0.0.1", "port": 5433, "dbname": "test"},
        {"host": "db.example.com", "dbname": "test"},
        {"host": "/tmp/socket-dir", "dbname": "test"},  # a socket directory is its own server
    ],
)
def test_another_database_or_server_is_not(params: dict[str, object]) -> None:
    assert DatabaseAddress.of_params(params) != CONFIGURED


def test_the_plugins_connections_are_known_by_their_application_name() -> None:
    assert is_the_plugins({"application_name": "pytest-uow 1a2b3c4d gw0"})
    assert is_the_plugins({"server_settings": {"application_name": "pytest-uow 1a2b gw1 t.py"}})
    assert not is_the_plugins({"application_name": "billing"})
    assert not is_the_plugins({})


def test_a_routed_libpq_connection_keeps_its_own_options_and_takes_the_worker_schema() -> None:
    worker = make_url("postgresql://uow:secret@127.0.0.1:5432/test")
    params = {
        "host": "127.0.0.1",
        "dbname": "test",
        "user": "app",
        "options": "-cstatement_timeout=5s",
    }

    routed = routed_params(params, worker, "uow_1a2b_gw0", asyncpg=False)

    assert routed == {
        "host": "127.0.0.1",
        "port": 5432,
        "dbname": "test",
        "user": "uow",
        "password": "secret",
        "options": "-cstatement_timeout=5s -csearch_path=uow_1a2b_gw0",
    }
    assert params["options"] == "-cstatement_timeout=5s"  # the application's own, unchanged


def test_a_routed_asyncpg_connection_takes_the_worker_database_and_server_settings() -> None:
    worker = make_url("postgresql://postgres@127.0.0.1:5432/uow_1a2b_gw0")
    settings = {"jit": "off"}
    params = {"host": "127.0.0.1", "database": "test", "server_settings": settings}

    assert routed_params(params, worker, None, asyncpg=True) == {
        "host": "127.0.0.1",
        "port": 5432,
        "database": "uow_1a2b_gw0",
        "user": "postgres",
        "server_settings": {"jit": "off"},
    }
    assert routed_params(params, worker, "s", asyncpg=True)["server_settings"] == {
        "jit": "off",
        "search_path": "s",
    }
    assert settings == {"jit": "off"}  # shared by the engine's connections: never changed


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://u@h/d",
        pytest.param(
            "postgresql+psycopg://u@h/d",
            marks=pytest.mark.skipif(not SQLALCHEMY_2, reason="no psycopg 3 dialect on 1.4"),
        ),
    ],
)
def test_an_overridden_dialect_is_restored_exactly(url: str) -> None:
    """The application's dialect gets its own methods back: pinned on every SQLAlchemy version
    the plugin serves, since the methods it overrides are the documented ``Dialect`` ones."""
    dialect = create_engine(url).dialect
    before = dict(vars(dialect))
    overridden = OverriddenDialects(lambda dbapi_connection: None)

    overridden.override(dialect)
    assert vars(dialect).keys() > before.keys()
    for name in ("do_begin", "do_commit", "do_rollback", "do_close", "set_isolation_level"):
        assert callable(getattr(dialect, name))
    overridden.restore()

    assert vars(dialect) == before
