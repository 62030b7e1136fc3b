"""``uow_sessionmakers``: the application's own factories, captured at import time, are re-bound
in place for each test and given back afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import project_ini, schemas_named

FLASK_TESTS = """
import pytest
from app import create_app

@pytest.fixture
def client():
    return create_app().test_client()

@pytest.mark.parametrize("n", range(4))
def test_endpoint_commits_through_its_own_unit_of_work(client, n):
    response = client.post("/batches", json={"reference": "batch-1", "qty": 20})
    assert response.status_code == 201
    assert response.get_json() == {"count": 1}

def test_endpoint_served_by_a_wsgi_server_thread():
    import json, threading, urllib.request
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, create_app())
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        for expected in (1, 2):
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.server_port}/batches", method="POST",
                data=json.dumps({"reference": f"b{expected}", "qty": 1}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert json.load(response) == {"count": expected}
    finally:
        server.shutdown()
        thread.join()
"""


@pytest.mark.parametrize(
    ("mode", "isolation"),
    [(["-n", "2"], "REPEATABLE READ"), (["-p", "no:xdist"], "SERIALIZABLE")],
    ids=["xdist-2-repeatable-read", "no-xdist-serializable"],
)
def test_flask_endpoint_rolls_back(
    project: pytest.Pytester,
    outside: Engine,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    mode: list[str],
    isolation: str,
) -> None:
    """The app's engine asks for its own isolation level; its endpoint still rolls back."""
    monkeypatch.setenv("APP_ISOLATION", isolation)
    project.makepyfile(test_api=FLASK_TESTS)

    result = project.runpytest_subprocess(*mode, f"--uow-schema-prefix={prefix}")

    result.assert_outcomes(passed=5)
    assert schemas_named(outside, prefix) == []


def test_without_the_setting_the_app_keeps_its_own_database(project: pytest.Pytester) -> None:
    """The other side of the coin: the app's factory points at a server that does not exist,
    so an endpoint test only passes because the plugin re-binds it."""
    project.makepyprojecttoml(project_ini(sessionmakers=False))
    project.makepyfile(test_api=FLASK_TESTS)

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(["*OperationalError*"])


RESTORE_CHECK = """
import app

def pytest_unconfigure(config):
    factory = app.DEFAULT_SESSION_FACTORY
    with open("restored.txt", "w") as f:
        f.write(repr((factory.kw["bind"] is app.engine,
                      factory.kw.get("join_transaction_mode"),
                      factory.kw["expire_on_commit"])))
"""

RESTORE_TESTS = """
import app
from sqlalchemy.engine import Connection

def test_bound_to_the_test_connection(uow_connection):
    assert app.DEFAULT_SESSION_FACTORY.kw["bind"] is uow_connection
    assert app.DEFAULT_SESSION_FACTORY.kw["expire_on_commit"] is False

def test_bound_even_without_plugin_fixtures():
    assert isinstance(app.DEFAULT_SESSION_FACTORY.kw["bind"], Connection)
"""


def test_factories_are_restored_after_the_run(project: pytest.Pytester) -> None:
    project.makeconftest(RESTORE_CHECK)
    project.makepyfile(test_restore=RESTORE_TESTS)

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(passed=2)
    assert (project.path / "restored.txt").read_text() == "(True, 'conditional_savepoint', False)"


SCOPED_APP = """
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker
from app import batches, metadata

Session = scoped_session(sessionmaker(bind=create_engine("postgresql+psycopg2://x@127.0.0.1:1/x")))
"""

SCOPED_TESTS = """
import pytest
from sqlalchemy import func, select
from app import batches
from scoped import Session

@pytest.mark.parametrize("n", range(3))
def test_scoped_session_is_fresh_and_rolled_back(n):
    assert Session.execute(select(func.count()).select_from(batches)).scalar_one() == 0
    Session.execute(batches.insert().values(reference="r", qty=1))
    Session.commit()
"""


def test_scoped_session(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(scoped=SCOPED_APP, test_scoped=SCOPED_TESTS)
    monkeypatch.setenv("UOW_SESSIONMAKERS", "scoped:Session, app:DEFAULT_SESSION_FACTORY")

    result = project.runpytest_subprocess("-p", "no:xdist")

    result.assert_outcomes(passed=3)
