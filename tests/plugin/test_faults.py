"""Bad input and server faults: each is one line per test that needs the database, naming the
setting and what to do, never a traceback; a server lost mid-run fails the remaining database
tests at once with that one reason, while tests that do not need it still pass."""

from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from pytest_uow import throwaway_server
from tests.conftest import CACHE_HOME, project_ini


@pytest.fixture
def project(project: pytest.Pytester) -> pytest.Pytester:
    """The user's project without ``uow_sessionmakers``, so that tests that use none of the
    plugin's fixtures do not need the database."""
    project.makepyprojecttoml(project_ini(sessionmakers=False))
    return project


WRONG_PASSWORD = "s3cr3t-but-wrong"


# Setup faults are reported the same way with and without xdist; one -n 2 case per kind of
# latch is enough: test_a_server_lost_mid_run... runs under both.
def _assert_one_line_per_database_test(result: pytest.RunResult, line: str) -> None:
    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines([line])
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "During handling" not in output


@pytest.mark.parametrize(
    ("url", "cause", "remedy"),
    [
        (
            "postgresql://postgres@127.0.0.1:1/test",
            "*Connection refused*",
            "check that the server is running and that uow_database_url (environment "
            "UOW_DATABASE_URL) names its host and port",
        ),
        (
            "postgresql://postgres@127.0.0.1:5432/no_such_database_here",
            '*database "no_such_database_here" does not exist*',
            "create that database, or name an existing one in uow_database_url (environment "
            "UOW_DATABASE_URL)",
        ),
    ],
    ids=["server-unreachable", "database-missing"],
)
def test_a_server_that_cannot_be_used_is_one_line_per_test_naming_the_setting(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url: str, cause: str, remedy: str
) -> None:
    monkeypatch.setenv("UOW_DATABASE_URL", url)
    project.copy_example("faults/test_three.py")

    result = project.runpytest_subprocess("-p", "no:xdist")

    shown = url.replace("postgresql://", "postgresql+psycopg2://")
    _assert_one_line_per_database_test(
        result,
        f"pytest-uow could not create worker schema uow_*_main on {shown}: OperationalError: "
        f"{cause}; {remedy}",
    )


@pytest.fixture
def limited_user(outside: Engine) -> Iterator[str]:
    """A user that may connect to the database but not create schemas in it."""
    name = f"limited_{secrets.token_hex(4)}"
    with outside.begin() as connection:
        connection.execute(text(f"CREATE ROLE {name} LOGIN"))
    yield name
    with outside.begin() as connection:
        connection.execute(text(f"DROP ROLE {name}"))


@pytest.mark.parametrize("user", ["unknown", "limited"])
def test_a_user_that_cannot_connect_or_create_schemas_is_one_line_per_test(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    server_url: str,
    request: pytest.FixtureRequest,
    user: str,
) -> None:
    if user == "unknown":
        name = f"nobody_{secrets.token_hex(4)}"
        line = (
            f'OperationalError: *role "{name}" does not exist*; check the user name in '
            "uow_database_url (environment UOW_DATABASE_URL), and that the server lets it connect"
        )
    else:
        name = request.getfixturevalue("limited_user")
        line = (
            "InsufficientPrivilege: permission denied for database *; the user named in "
            "uow_database_url (environment UOW_DATABASE_URL) needs the CREATE privilege on its "
            "database"
        )
    url = make_url(server_url).set(username=name)
    monkeypatch.setenv("UOW_DATABASE_URL", url.render_as_string(hide_password=False))
    project.copy_example("faults/test_three.py")

    result = project.runpytest_subprocess("-p", "no:xdist")

    shown = url.render_as_string(hide_password=True)
    _assert_one_line_per_database_test(
        result, f"pytest-uow could not create worker schema uow_*_main on {shown}: {line}"
    )


@pytest.fixture(scope="module")
def password_server() -> Iterator[URL]:
    """A throwaway server of this module's own where user ``app`` must give its password
    (the machine's service trusts everybody, so a wrong password would go unnoticed there)."""
    with throwaway_server() as server_url:
        url = make_url(server_url)
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as connection:
            connection.execute(text("CREATE ROLE app LOGIN SUPERUSER PASSWORD 'right'"))
            hba = Path(connection.execute(text("SHOW hba_file")).scalar_one())
        hba.write_text("local all app scram-sha-256\n" + hba.read_text())
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_reload_conf()"))
        wrong = url.set(username="app", password=WRONG_PASSWORD)
        deadline = time.monotonic() + 10
        while True:  # the server rereads pg_hba.conf a moment after being told to
            try:
                create_engine(wrong, poolclass=NullPool).connect().close()
            except OperationalError:
                break
            assert time.monotonic() < deadline, "the server never asked for a password"
            time.sleep(0.05)
        yield wrong


def test_a_wrong_password_says_to_check_the_user_and_password(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, password_server: URL
) -> None:
    monkeypatch.setenv("UOW_DATABASE_URL", password_server.render_as_string(hide_password=False))
    project.copy_example("faults/test_three.py")

    result = project.runpytest_subprocess("-p", "no:xdist")

    shown = password_server.render_as_string(hide_password=True)
    _assert_one_line_per_database_test(
        result,
        f"pytest-uow could not create worker schema uow_*_main on {shown}: OperationalError: "
        '*password authentication failed for user "app"*; check the user name and password '
        "in uow_database_url (environment UOW_DATABASE_URL)",
    )
    assert WRONG_PASSWORD not in result.stdout.str()  # the password itself is never shown


@pytest.mark.parametrize(
    ("fault", "line"),
    [
        (
            "table-fails",
            "UndefinedFunction: function no_such_function() does not exist *; a table of "
            "uow_metadata (faulty:metadata, ini uow_metadata in pyproject.toml) could not be "
            "created: fix the model or its DDL",
        ),
        (
            "disk-full",
            'DiskFull: could not extend file "base/1/2": No space left on device *; the server '
            "is short of disk space, memory or connections: free some there and run again",
        ),
    ],
)
def test_tables_that_cannot_be_created_are_one_line_per_test(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fault: str, line: str
) -> None:
    monkeypatch.setenv("FAULT", fault)
    project.copy_example("faults/faulty.py")
    project.makepyprojecttoml(project_ini("faulty:metadata", sessionmakers=False))
    project.copy_example("faults/test_three.py")

    result = project.runpytest_subprocess("-p", "no:xdist")

    _assert_one_line_per_database_test(
        result, f"pytest-uow could not create worker schema uow_*_main on *: {line}"
    )


# Under xdist, the other worker's tests 3 and 4 must not run before the server is gone.


def _junit_outcomes(report: Path) -> dict[str, str]:
    """Each test's outcome from a JUnit XML report: "passed", or the message it failed with."""
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = case.find("error")
        if problem is None:
            problem = case.find("failure")
        if problem is None:
            outcome = "passed"
        else:  # 'failed on setup with "Failed: <message>"'
            outcome = problem.get("message", "").partition("Failed: ")[2].removesuffix('"')
        outcomes[case.get("name", "")] = outcome
    return outcomes


@pytest.mark.throwaway
@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["no-xdist", "xdist-2"])
def test_a_server_lost_mid_run_fails_the_remaining_database_tests_with_one_reason(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: list[str]
) -> None:
    # A throwaway server of the inner run's own: never the machine's service.
    monkeypatch.delenv("UOW_DATABASE_URL")
    monkeypatch.setenv("XDG_CACHE_HOME", CACHE_HOME)
    project.copy_example("faults/test_lost.py")
    project.copy_example("faults/conftest.py")
    monkeypatch.setenv("SERVER_GONE", str(project.path / "server-gone"))
    monkeypatch.setenv("WORKERS", "2" if "-n" in mode else "1")
    report = project.path / "report.xml"

    result = project.runpytest_subprocess(*mode, "-p", "no:randomly", f"--junitxml={report}")

    outcomes = _junit_outcomes(report)
    assert outcomes.pop("test_1_works") == "passed"
    assert outcomes.pop("test_5_needs_no_database") == "passed"
    # test 2 passes, and its reset finds the server gone; every later database test fails
    # with its worker's one reason (each worker finds out for itself).
    assert set(outcomes) == {
        "test_2_the_server_goes_away",
        "test_4_uses_only_the_engine",
        *(f"test_3_needs_the_database[{n}]" for n in range(4)),
    }
    reasons = set(outcomes.values())
    assert len(reasons) == 1 if mode == ["-p", "no:xdist"] else 1 <= len(reasons) <= 2
    for reason in reasons:
        assert reason.startswith("pytest-uow lost the throwaway server (could not ")
        assert reason.endswith("every later test that needs the database fails with this reason")
    assert "Traceback" not in result.stdout.str()
