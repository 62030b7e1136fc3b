"""Flask-SQLAlchemy 3.x: naming the extension object in ``uow_sessionmakers`` makes views that
use ``db.session`` and ``Model.query`` (through the test client, or with an app context the
test pushed) land in the test's isolation, every bind included, and views that connect through
``db.engine`` land in the worker namespace under real commits and fail the test in one line
under rollback; the app's own databases are never reached."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import project_ini, schemas_named

FLASK_INI = project_ini("flaskapp:db", sessionmakers=False) + (
    'uow_sessionmakers = ["flaskapp:db"]\n'
)
# Where the application's own configuration points: nothing listens there.
NOWHERE = "postgresql+psycopg2://app@127.0.0.1:1/app?connect_timeout=1"


@pytest.fixture
def flask_project(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("APP_URL", NOWHERE)
    project.makepyprojecttoml(FLASK_INI)
    project.copy_example("flask_db")
    return project


@pytest.mark.parametrize("mode", [["-n", "2"], ["-p", "no:xdist"]])
def test_views_land_in_the_tests_isolation(
    flask_project: pytest.Pytester, own_database: Engine, mode: list[str]
) -> None:
    result = flask_project.runpytest_subprocess(*mode)

    result.assert_outcomes(passed=8)
    assert "UowWarning" not in result.stdout.str()
    assert schemas_named(own_database, "uow") == []


def test_under_truncate_for_the_whole_run(
    flask_project: pytest.Pytester, own_database: Engine
) -> None:
    result = flask_project.runpytest_subprocess("-n", "2", "--uow-strategy=truncate")

    result.assert_outcomes(passed=8)
    assert schemas_named(own_database, "uow") == []


def test_an_extension_that_is_not_flask_sqlalchemy_3_is_refused(
    flask_project: pytest.Pytester,
) -> None:
    flask_project.makepyfile(
        legacy="""
        from flask_sqlalchemy import SQLAlchemy
        from sqlalchemy.orm import scoped_session, sessionmaker

        db = SQLAlchemy()
        db.session = scoped_session(sessionmaker())  # not the factory Flask-SQLAlchemy 3 makes
        """
    )
    flask_project.makepyprojecttoml(
        project_ini("flaskapp:db", sessionmakers=False) + 'uow_sessionmakers = ["legacy:db"]\n'
    )

    result = flask_project.runpytest_subprocess("-p", "no:xdist")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: uow_sessionmakers: ['legacy:db'] from ini uow_sessionmakers in "
            "pyproject.toml: legacy:db is a Flask-SQLAlchemy extension whose db.session is not "
            "the one Flask-SQLAlchemy 3 makes; pytest-uow serves Flask-SQLAlchemy 3.x"
        ]
    )
