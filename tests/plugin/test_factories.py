"""factory_boy and polyfactory factories, bound to the application's ``scoped_session`` (named
in ``uow_sessionmakers``) or to the plugin's ``uow_session``: their ``commit`` and ``flush``
persistence is the test's, and nothing is left after it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

FACTORIES_INI = (
    '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "shop:metadata"\n'
    'uow_sessionmakers = ["shop:Session"]\n'
)


@pytest.mark.parametrize(
    ("args", "isolation"),
    [
        (["-p", "no:xdist"], "schema"),
        (["-n", "2", "--dist=loadfile"], "schema"),
        (["-p", "no:xdist"], "database"),
    ],
    ids=["n0", "n2", "database"],
)
def test_factory_boy_and_polyfactory_write_the_tests_rows(
    project: pytest.Pytester, own_database: Engine, own_prefix: str, args: list[str], isolation: str
) -> None:
    project.copy_example("factories")
    project.makepyprojecttoml(
        FACTORIES_INI + f'uow_schema_prefix = "{own_prefix}"\nuow_isolation = "{isolation}"\n'
    )

    # In random order: every test but the first would meet the rows of those before it.
    result = project.runpytest_subprocess(*args, "-p", "randomly")

    result.assert_outcomes(passed=4)
    assert "UowWarning" not in result.stdout.str()
    with own_database.connect() as connection:
        tables = connection.execute(
            text("SELECT count(*) FROM pg_tables WHERE tablename = 'customers'")
        ).scalar_one()
    assert tables == 0  # nothing reached the user's database
