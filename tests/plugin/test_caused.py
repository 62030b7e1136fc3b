"""Errors the plugin causes name it: a failing test whose database error may come from what
the plugin did to its connection (``PGOPTIONS`` read by a connection to another database, a
table the worker namespace was not built with) gets a ``pytest-uow`` report section saying
what, and the remedy; an unrelated database error gets no such line."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import PROJECT_INI


def test_the_failure_report_says_what_the_plugin_did(
    project: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_URL", own_database.url.render_as_string(hide_password=False))
    project.makepyprojecttoml(PROJECT_INI)
    project.copy_example("caused/test_caused.py")

    result = project.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*InvalidSchemaName*",
            "*- pytest-uow -*",
            "pytest-uow exports PGOPTIONS='-c search_path=uow_*' to this process and its "
            "children, so that the libpq connections they open to * reach worker schema "
            "uow_*_main; a libpq connection to another database reads it too, and that schema "
            "does not exist there. Give that connection its own options *",
            "*UndefinedTable*",
            "*- pytest-uow -*",
            "pytest-uow points the connections to the configured database at worker schema "
            "uow_*_main (search_path uow_*_main*), which holds what uow_metadata * builds, and "
            "nothing of the database's own: *",
        ]
    )
    # Every failing test that used the database says where its data was; only the first two
    # name what the plugin did to their connection.
    assert result.stdout.str().count("- pytest-uow -") == 3
    assert result.stdout.str().count("pytest-uow exports PGOPTIONS") == 1
    assert result.stdout.str().count("pytest-uow points the connections") == 1
