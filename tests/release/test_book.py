"""The book's own code (Architecture Patterns with Python, chapter 6: classic ``mapper()``, a
1.x-style engine and sessionmaker, plain-string SQL) runs unchanged under the plugin on
SQLAlchemy 1.4: its integration and Flask API tests roll back, in random order, with fixed
references, under -n 2 and without xdist. On SQLAlchemy 2 that code does not import
(``mapper()`` is gone); examples/allocation is its SQLAlchemy 2 form."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from pytest_uow.compat import SQLALCHEMY_2
from tests.conftest import schemas_named

pytestmark = pytest.mark.skipif(
    SQLALCHEMY_2, reason="the book's code is written for SQLAlchemy 1.x (orm.mapper)"
)

BOOK_INI = (
    '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "orm:metadata"\n'
    'uow_sessionmakers = ["unit_of_work:DEFAULT_SESSION_FACTORY"]\n'
)


@pytest.mark.parametrize("mode", [["-n", "2"], ["-p", "no:xdist"]])
def test_the_books_tests_pass_and_leave_nothing(
    project: pytest.Pytester, own_database: Engine, mode: list[str]
) -> None:
    project.makepyprojecttoml(BOOK_INI)
    project.copy_example("book")

    result = project.runpytest_subprocess(*mode, "-p", "randomly")

    result.assert_outcomes(passed=7)
    assert "Using --randomly-seed=" in result.stdout.str()
    assert "UowWarning" not in result.stdout.str()
    assert schemas_named(own_database, "uow") == []
