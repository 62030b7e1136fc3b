"""Teardown that cannot hang: locks a test leaves behind end in a lock timeout; the worker's own
backends holding them are terminated and the test is named in a warning; anybody else's are
never touched."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PublicGuard, schemas_named

LEFTOVER_LOCKS = """
import threading

import pytest
from sqlalchemy import create_engine, text

leaked = []

@pytest.mark.uow(strategy="truncate")
def test_1_leaves_a_connection_holding_a_lock(uow_engine):
    connection = uow_engine.connect()
    connection.execute(text("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE"))
    leaked.append(connection)

@pytest.mark.uow(strategy="recreate")
def test_2_leaves_a_thread_in_a_transaction(uow_database_url):
    # Application code in a thread, with an engine of its own, that never finishes.
    holding = threading.Event()

    def hold():
        with create_engine(uow_database_url).begin() as connection:
            connection.execute(text("INSERT INTO batches (reference, qty) VALUES ('t', 1)"))
            holding.set()
            threading.Event().wait()

    threading.Thread(target=hold, daemon=True).start()
    assert holding.wait(10)

@pytest.mark.uow(strategy="truncate")
def test_3_starts_empty_and_commits(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('3', 3)"))
    uow_session.commit()

def test_4_leaves_a_lock_until_the_end_of_the_run(uow_connection, uow_engine):
    connection = uow_engine.connect()
    connection.execute(text("LOCK TABLE batches IN SHARE MODE"))
    leaked.append(connection)
"""


def test_our_leftover_locks_are_broken_and_the_test_named_in_a_warning(
    project: pytest.Pytester, outside: Engine, prefix: str, public_guard: PublicGuard
) -> None:
    before = public_guard.fingerprint()
    project.makepyfile(test_leak=LEFTOVER_LOCKS)

    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", f"--uow-schema-prefix={prefix}"
    )

    result.assert_outcomes(passed=4, warnings=3)
    terminated = "pytest-uow terminated 1 connection(s) that test_leak.py::{} left holding locks"
    result.stdout.fnmatch_lines(
        [
            "*UowWarning: "
            + terminated.format("test_1_leaves_a_connection_holding_a_lock")
            + f" on worker schema {prefix}_*_main, so that the reset could run (pid *, idle in "
            "transaction: LOCK TABLE batches IN ACCESS EXCLUSIVE MODE): close connections, "
            "sessions and threads in the test or its fixtures",
            "*UowWarning: "
            + terminated.format("test_2_leaves_a_thread_in_a_transaction")
            + "*(pid *, idle in transaction: INSERT INTO batches*",
            "*UowWarning: pytest-uow terminated 1 connection(s) of this worker that still held "
            f"locks on worker schema {prefix}_*_main at the end of the run, so that it could be "
            "dropped: pid *, idle in transaction: LOCK TABLE batches IN SHARE MODE",
        ]
    )
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before


SOMEONE_ELSES_LOCK = """
import pytest
from sqlalchemy import create_engine, text

others = []

@pytest.mark.uow(strategy="truncate")
def test_1_someone_else_locks_the_schema(uow_database_url):
    engine = create_engine(uow_database_url, connect_args={"application_name": "someone-else"})
    connection = engine.connect()
    connection.execute(text("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE"))
    others.append(connection)

def test_2_their_connection_was_left_alone():
    connection = others.pop()
    assert connection.execute(text("SELECT 1")).scalar_one() == 1
    connection.close()

@pytest.mark.uow(strategy="truncate")
def test_3_works_again(uow_session):
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 0
"""


def test_a_lock_held_by_anybody_else_is_an_error_naming_them_and_they_are_left_alone(
    project: pytest.Pytester, outside: Engine, prefix: str
) -> None:
    project.makepyfile(test_other=SOMEONE_ELSES_LOCK)

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
