"""Kept namespaces do not pile up: a run with ``uow_keep`` replaces what earlier runs of the
same worker kept, and ``uow_drop_kept`` drops everything earlier runs of the project kept.
Nothing else is touched: not a schema named like ours without our mark, not another
project's kept schema."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from pytest_uow.marks import kept_here
from tests.conftest import schemas_named

TESTS = """
from sqlalchemy import text


def test_a(uow_session):
    uow_session.execute(text("SELECT 1"))


def test_b(uow_session):
    uow_session.execute(text("SELECT 1"))


def test_c(uow_session):
    uow_session.execute(text("SELECT 1"))


def test_d(uow_session):
    uow_session.execute(text("SELECT 1"))
"""


def test_a_namespace_is_kept_here_by_its_mark_prefix_and_worker() -> None:
    comment = "pytest-uow kept: run=deadbeef worker=gw1"
    assert kept_here("uow_deadbeef_gw1", comment, "uow", None)
    assert kept_here("uow_deadbeef_gw1", comment, "uow", "gw1")
    assert not kept_here("uow_deadbeef_gw1", comment, "uow", "gw10")
    assert not kept_here("uow_deadbeef_gw1", comment, "other", None)
    assert not kept_here("uow_deadbeef_gw1", "pytest-uow run=deadbeef worker=gw1", "uow", None)
    assert not kept_here("uow_deadbeef_gw1", None, "uow", None)
    assert not kept_here("uow_x_deadbeef_gw1", comment, "uow", None)


def _kept(outside: Engine, *schemas: str) -> None:
    with outside.begin() as connection:
        for schema in schemas:
            run, worker = schema.split("_")[-2:]
            connection.execute(text(f"CREATE SCHEMA {schema}"))
            connection.execute(text(f"CREATE TABLE {schema}.precious (id int)"))
            connection.execute(
                text(f"COMMENT ON SCHEMA {schema} IS 'pytest-uow kept: run={run} worker={worker}'")
            )


def test_a_kept_run_replaces_each_workers_earlier_one_and_drop_kept_drops_them_all(
    project: pytest.Pytester, outside: Engine, prefix: str
) -> None:
    project.makepyfile(test_kept=TESTS)
    earlier_gw1, earlier_main = f"{prefix}_deadbeef_gw1", f"{prefix}_deadbeef_main"
    impostor = f"{prefix}_cafecafe_gw0"  # named like ours, never marked
    others = f"{prefix}x_deadbeef_gw0"  # kept by a project whose prefix is another
    _kept(outside, earlier_gw1, earlier_main, others)
    with outside.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {impostor}"))
    try:
        kept_run = project.runpytest_subprocess(
            "-n", "2", "--uow-keep", f"--uow-schema-prefix={prefix}"
        )

        kept_run.assert_outcomes(passed=4)
        kept_run.stdout.fnmatch_lines(
            [f"uow: dropped 1 worker schema(s) kept by earlier runs: {earlier_gw1}"]
        )
        kept_now = set(schemas_named(outside, prefix)) - {earlier_main, impostor}
        assert len(kept_now) == 2, kept_now
        assert earlier_gw1 not in kept_now

        dropping = project.runpytest_subprocess(
            "-p", "no:xdist", "--uow-drop-kept", f"--uow-schema-prefix={prefix}"
        )

        dropping.assert_outcomes(passed=4)
        dropping.stdout.fnmatch_lines(
            [
                "uow: dropped 3 worker schema(s) kept by earlier runs: "
                + ", ".join(sorted({earlier_main, *kept_now}))
            ]
        )
        assert schemas_named(outside, prefix) == [impostor]
        assert schemas_named(outside, f"{prefix}x") == [others]
    finally:
        with outside.begin() as connection:
            for schema in [*schemas_named(outside, prefix), others]:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


@pytest.mark.throwaway
def test_drop_kept_without_a_server_url_is_one_usage_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UOW_DATABASE_URL", raising=False)
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:xdist", "--uow-drop-kept")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: uow_drop_kept: on from command line --uow-drop-kept, but uow_database_url "
            "is not set: kept schemas live on a real server (the throwaway server is removed "
            "after each run)"
        ]
    )
