"""``--uow-keep-failed``: what a failed test left in the worker namespace, as it was before its
reset (under ``rollback``, its uncommitted rows), is kept in a namespace of its own, which the
failure report names with a ``psql`` line that opens it; a passing test keeps nothing, nor does
a run without failures; ``--uow-drop-kept`` removes the kept namespaces."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from tests.conftest import PROJECT_INI, databases_named, schemas_named

KEPT_LINE = re.compile(
    r"kept what the test left, before its reset, in (schema|database) (\S+): psql '([^']+)' "
    r"\(--uow-drop-kept removes it\)"
)


def _read(url: str) -> list[tuple[str, int]]:
    """The kept rows, through the URL the report printed, as psql would open it."""
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg2"), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            query = text("SELECT reference, qty FROM batches ORDER BY 1")
            return [(reference, qty) for reference, qty in connection.execute(query)]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "noun"),
    [(["-p", "no:xdist"], "schema"), (["-n", "2"], "schema"), (["-p", "no:xdist"], "database")],
    ids=["schema-n0", "schema-n2", "database-n0"],
)
def test_a_failed_tests_rows_are_kept_and_opened_by_the_printed_psql_line(
    project: pytest.Pytester,
    own_database: Engine,
    outside: Engine,
    own_prefix: str,
    args: list[str],
    noun: str,
) -> None:
    ini = PROJECT_INI + f'uow_schema_prefix = "{own_prefix}"\n'
    if noun == "database":
        ini += 'uow_isolation = "database"\n'
    project.makepyprojecttoml(ini)
    project.copy_example("kept/test_kept.py")

    result = project.runpytest_subprocess(*args, "-p", "randomly", "--uow-keep-failed")

    result.assert_outcomes(passed=1, failed=2)
    kept = {name: url for _, name, url in KEPT_LINE.findall(result.stdout.str())}
    assert len(kept) == 2, result.stdout.str()
    assert {noun for noun, _, _ in KEPT_LINE.findall(result.stdout.str())} == {noun}
    rows = sorted(_read(url) for url in kept.values())
    assert rows == [[("a", 1), ("b", 2)], [("c", 4)]]  # the passing test's row is nowhere
    if noun == "schema":
        assert schemas_named(own_database, own_prefix) == sorted(kept)
    else:
        assert set(kept) <= set(databases_named(outside, own_prefix))
    if shutil.which("psql"):
        url = next(iter(kept.values()))
        counted = subprocess.run(
            ["psql", url, "-Atc", "SELECT count(*) FROM batches"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert counted.stdout.strip() in {"1", "2"}

    # A run without failures keeps nothing; --uow-drop-kept removes what earlier runs kept.
    again = project.runpytest_subprocess(
        "-p", "no:xdist", "-k", "test_2", "--uow-keep-failed", "--uow-drop-kept"
    )

    again.assert_outcomes(passed=1, deselected=2)
    assert "kept what the test left" not in again.stdout.str()
    assert schemas_named(own_database, own_prefix) == []
    assert not set(kept) & set(databases_named(outside, own_prefix))


def test_it_needs_a_real_server(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UOW_DATABASE_URL")
    project.makepyprojecttoml(PROJECT_INI)

    result = project.runpytest_subprocess("--uow-keep-failed")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: uow_keep_failed: on from command line --uow-keep-failed, but "
            "uow_database_url is not set: a failed test's rows are kept on a real server (the "
            "throwaway server is removed after each run)"
        ]
    )
