"""Teardown that cannot hang: locks a test leaves behind end in a lock timeout; the worker's own
backends holding them are terminated and the test is named in a warning; anybody else's are
never touched."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PublicGuard, schemas_named


def test_our_leftover_locks_are_broken_and_the_test_named_in_a_warning(
    project: pytest.Pytester, outside: Engine, prefix: str, public_guard: PublicGuard
) -> None:
    before = public_guard.fingerprint()
    project.copy_example("teardown/test_leak.py")

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=4, warnings=3)
    test = "test_leak.py::{}"
    result.stdout.fnmatch_lines(
        [
            "*UowWarning: pytest-uow terminated 1 connection(s) of this worker holding locks on "
            f"worker schema {prefix}_*_main, so that the reset after "
            + test.format("test_1_leaves_a_connection_holding_a_lock")
            + " could run (pid *, idle in transaction, left by "
            + test.format("test_1_leaves_a_connection_holding_a_lock")
            + ": LOCK TABLE batches IN ACCESS EXCLUSIVE MODE): close connections, sessions and "
            "threads in the tests that left them, or their fixtures",
            "*UowWarning: *so that the reset after "
            + test.format("test_2_leaves_a_thread_in_a_transaction")
            + " could run (pid *, idle in transaction, left by "
            + test.format("test_2_leaves_a_thread_in_a_transaction")
            + ": INSERT INTO batches*",
            "*UowWarning: pytest-uow terminated 1 connection(s) of this worker that still held "
            f"locks on worker schema {prefix}_*_main at the end of the run, so that it could be "
            "dropped: pid *, idle in transaction, left by "
            + test.format("test_4_leaves_a_lock_until_the_end_of_the_run")
            + ": LOCK TABLE batches IN SHARE MODE; close connections, sessions and threads in "
            "the tests that left them, or their fixtures",
        ]
    )
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before


def test_a_connection_it_ended_goes_back_to_its_pool_without_a_traceback(
    project: pytest.Pytester, prefix: str
) -> None:
    """The connection the reset ended is invalidated in its pool: given back, it is not reset
    on a dead backend, which the pool would log as an error with a traceback."""
    project.copy_example("teardown/test_ended.py")

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(["*UowWarning: pytest-uow terminated 1 connection(s)*"])
    assert "Exception during reset" not in result.stdout.str() + result.stderr.str()


def test_a_lock_held_by_anybody_else_is_an_error_naming_them_and_they_are_left_alone(
    project: pytest.Pytester, outside: Engine, prefix: str
) -> None:
    project.copy_example("teardown/test_other.py")

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_1_someone_else_locks_the_schema*",
            "pytest-uow could not reset the worker schema after "
            "test_other.py::test_1_someone_else_locks_the_schema (truncate): locks on worker "
            f"schema {prefix}_*_main are held by backends that are not this worker's, and are "
            "left alone: pid *, idle in transaction: LOCK TABLE batches IN ACCESS EXCLUSIVE "
            "MODE (application 'someone-else')",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert schemas_named(outside, prefix) == []


NAMES = """
import asyncio

import psycopg2
import pytest
from pytest_uow import async_engine_args
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

NAME = "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"


@pytest.mark.uow(strategy="truncate")
def test_engine_connections_carry_the_test(uow_engine):
    with uow_engine.connect() as connection:
        name = connection.execute(text(NAME)).scalar_one()
    assert name.startswith("pytest-uow ") and name.endswith("connections_carry_the_test"), name
    assert len(name) <= 63 and name.split(" ")[3].startswith("..."), name


def test_engines_built_from_the_url_carry_the_test(uow_database_url):
    engine = create_engine(uow_database_url)
    with engine.connect() as connection:
        name = connection.execute(text(NAME)).scalar_one()
    engine.dispose()
    assert name.startswith("pytest-uow ") and name.endswith("from_the_url_carry_the_test"), name


def test_asyncpg_engines_built_from_the_url_carry_the_test(uow_database_url):
    url, connect_args = async_engine_args(uow_database_url, "asyncpg")

    async def read_name():
        engine = create_async_engine(url, connect_args=connect_args)
        async with engine.connect() as connection:
            name = (await connection.execute(text(NAME))).scalar_one()
        await engine.dispose()
        return name

    name = asyncio.run(read_name())
    assert name.startswith("pytest-uow ") and name.endswith("from_the_url_carry_the_test"), name
    assert connect_args["server_settings"]["application_name"].count(" ") == 2, connect_args


def test_libpq_clients_carry_the_test_through_pgappname(uow_dsn):
    dsn = uow_dsn.split("?")[0]
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(NAME)
        (name,) = cursor.fetchone()
    connection.close()
    assert name.startswith("pytest-uow ") and name.endswith("through_pgappname"), name
"""


def test_connections_opened_during_a_test_carry_it_in_their_application_name(
    project: pytest.Pytester, prefix: str
) -> None:
    project.makepyfile(test_names=NAMES)

    result = project.runpytest_subprocess("-p", "no:xdist", f"--uow-schema-prefix={prefix}")

    result.assert_outcomes(passed=4)
