"""``uow_isolation = database``: a database per worker, cloned from a template that is built once
and reused while what builds it is unchanged. The same guarantees as schema mode: every strategy,
nothing left behind, killed runs reaped, live runs and the user's databases never touched.

Runs of other tests may run at the same time on the same server: every run leaves alone what
live runs hold (their leases) and what is not marked as a worker's. The one test that needs the
server's list of databases to itself, the reaping of a killed run, has a server of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from pytest_uow.isolation.database import KEPT_TEMPLATES, lock_key, stale_templates
from tests.conftest import (
    PROJECT_INI,
    PublicGuard,
    autocommit,
    databases_named,
    project_ini,
    start_lingering_run,
)

BILLING_INI = project_ini("billing:metadata", sessionmakers=False) + 'uow_isolation = "database"\n'
MODES = [pytest.param(["-n", "2"], id="xdist-2"), pytest.param(["-p", "no:xdist"], id="no-xdist")]


@pytest.fixture
def billing(
    project: pytest.Pytester, own_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A project whose models name the ``billing`` schema, in database mode."""
    project.copy_example("database/billing.py")
    project.makepyprojecttoml(BILLING_INI + f'uow_schema_prefix = "{own_prefix}"\n')
    monkeypatch.setenv("REPORT_DIR", str(project.mkdir("reports")))
    return project


def _reported(project: pytest.Pytester) -> set[str]:
    return {path.name for path in (project.path / "reports").iterdir()}


def _templates(outside: Engine, prefix: str) -> dict[str, int]:
    return {
        name: oid
        for name, (oid, template, _, _) in databases_named(outside, prefix).items()
        if template
    }


@pytest.mark.parametrize("mode", MODES)
def test_every_strategy_in_a_database_per_worker(
    billing: pytest.Pytester,
    outside: Engine,
    public_guard: PublicGuard,
    prefix: str,
    mode: list[str],
) -> None:
    billing.copy_example("database/test_strategies.py")
    before = public_guard.fingerprint()

    result = billing.runpytest_subprocess(*mode)

    result.assert_outcomes(passed=10)
    workers = 2 if "-n" in mode else 1
    result.stdout.fnmatch_lines(
        [
            f"uow: template {prefix}_tpl_* built in * s; {workers} worker database(s) cloned "
            "from it, ready in *-* ms"
        ]
    )
    worker_databases = _reported(billing)
    assert len(worker_databases) == workers
    assert all(name.startswith(f"{prefix}_") for name in worker_databases)
    # Nothing left but the template: sealed, marked, kept for the next run.
    left = databases_named(outside, prefix)
    assert list(left) == [name for name in left if name.startswith(f"{prefix}_tpl_")]
    ((_, is_template, allows_connections, comment),) = left.values()
    assert (is_template, allows_connections) == (True, False)
    assert comment.startswith(f"pytest-uow template prefix={prefix} run=")
    assert public_guard.fingerprint() == before


@pytest.mark.parametrize(
    ("strategy", "mode"), [("rollback", ["-n", "2"]), ("truncate", ["-p", "no:xdist"])]
)
def test_the_apps_own_sessionmaker_is_re_bound_to_the_worker_database(
    project: pytest.Pytester, outside: Engine, own_prefix: str, strategy: str, mode: list[str]
) -> None:
    """The app's import-time engine names a server that is not there: its sessionmaker works
    only because it is re-bound, to the test's connection or to the worker engine."""
    project.makepyprojecttoml(
        PROJECT_INI + f'uow_isolation = "database"\nuow_schema_prefix = "{own_prefix}"\n'
    )
    project.copy_example("isolation/test_commits.py")

    result = project.runpytest_subprocess(*mode, f"--uow-strategy={strategy}")

    result.assert_outcomes(passed=16)
    assert list(databases_named(outside, own_prefix)) == list(_templates(outside, own_prefix))


def test_a_template_is_reused_until_the_models_change_or_a_rebuild_is_asked_for(
    billing: pytest.Pytester, outside: Engine, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    billing.copy_example("database/test_strategies.py")

    def run(*args: str) -> tuple[pytest.RunResult, dict[str, int]]:
        mode = () if "-n" in args else ("-p", "no:xdist")
        result = billing.runpytest_subprocess(*mode, *args)
        result.assert_outcomes(passed=10)
        return result, _templates(outside, prefix)

    first, built = run()
    # Under xdist the controller works out the hash once for all workers: the same hash.
    second, reused = run("-n", "2")
    rebuilt_result, rebuilt = run("--uow-rebuild")
    monkeypatch.setenv("UOW_REBUILD", "1")
    from_environment, rebuilt_again = run()
    monkeypatch.delenv("UOW_REBUILD")
    monkeypatch.setenv("EXTRA_COLUMN", "loyalty")
    changed_result, changed = run()

    (name,) = built
    first.stdout.fnmatch_lines([f"uow: template {name} built in *"])
    second.stdout.fnmatch_lines(
        [f"uow: template {name} reused, built by an earlier run; 2 worker database(s)*"]
    )
    assert reused == built, "the same template, not built again"
    rebuilt_result.stdout.fnmatch_lines(
        ["uow: rebuild=on (command line --uow-rebuild)", f"uow: template {name} built in *"]
    )
    from_environment.stdout.fnmatch_lines(
        ["uow: rebuild=on (environment UOW_REBUILD)", f"uow: template {name} built in *"]
    )
    assert list(rebuilt) == list(rebuilt_again) == [name]
    assert len({built[name], rebuilt[name], rebuilt_again[name]}) == 3, "built afresh each time"
    (new_name,) = set(changed) - {name}
    changed_result.stdout.fnmatch_lines([f"uow: template {new_name} built in *"])
    assert name in changed, "the previous template stays: one of the newest few"


def test_stale_templates_go_but_the_newest_few_those_in_use_and_the_users() -> None:
    """Pure choice first: all but the newest few, never the current one."""
    newest_first = ["t5", "t4", "t3", "t2", "t1"]
    assert stale_templates(newest_first, "t5") == newest_first[KEPT_TEMPLATES:]
    assert stale_templates(newest_first, "t1") == newest_first[KEPT_TEMPLATES - 1 : -1]


def test_a_new_template_drops_the_projects_stale_ones_unless_in_use(
    billing: pytest.Pytester, outside: Engine, prefix: str
) -> None:
    old = [f"{prefix}_tpl_{n:016x}" for n in range(4)]  # oldest first
    impostor = f"{prefix}_tpl_{'f' * 16}"  # named like a template, not ours
    for name in old:
        autocommit(
            outside,
            f"CREATE DATABASE {name} TEMPLATE template0",
            f"COMMENT ON DATABASE {name} IS 'pytest-uow template prefix={prefix} run=dead0001'",
            f"ALTER DATABASE {name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
        )
    autocommit(outside, f"CREATE DATABASE {impostor} TEMPLATE template0")
    billing.copy_example("database/test_strategies.py")
    user = outside.connect()
    try:  # a live run of another version still clones from the oldest one
        user.execute(text("SELECT pg_advisory_lock_shared(:k)"), {"k": lock_key("use", old[0])})

        result = billing.runpytest_subprocess("-p", "no:xdist")

        result.assert_outcomes(passed=10)
    finally:
        user.close()
    left = set(databases_named(outside, prefix))
    (current,) = left - set(old) - {impostor}
    # The new one, the newest two others, the one in use and the user's.
    assert left == {current, old[3], old[2], old[0], impostor}


def test_databases_of_a_killed_run_are_reaped_and_nothing_else(
    billing: pytest.Pytester, own_server: Engine, prefix: str
) -> None:
    outside = own_server
    billing.copy_example("database/test_linger.py")
    impostor = f"{prefix}_deadbeef_gw0"  # our naming, but not created by pytest-uow
    kept = f"{prefix}_deadbeef_gw1"  # kept by an earlier run with --uow-keep
    leased = f"{prefix}_cafecafe_gw0"  # a live run's, whose lease is held elsewhere
    # A worker's mark on a name that is not that worker's (a template being renamed, once).
    misnamed = f"{prefix}_tpl_{'0' * 16}"
    for name in (impostor, kept, leased, misnamed):
        autocommit(outside, f"CREATE DATABASE {name} TEMPLATE template0")
    autocommit(
        outside,
        f"COMMENT ON DATABASE {kept} IS 'pytest-uow kept: run=deadbeef worker=gw1'",
        f"COMMENT ON DATABASE {leased} IS 'pytest-uow run=cafecafe worker=gw0'",
        f"COMMENT ON DATABASE {misnamed} IS 'pytest-uow run=deadbeef worker=gw0'",
    )
    lease_holder = outside.connect()
    try:
        lease_holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("lease", leased)})
        killed = start_lingering_run(billing, billing.path / "reports", ["-n", "2"], 2)
        os.killpg(killed.pid, signal.SIGKILL)  # kill -9 of pytest and its workers, mid-test
        killed.wait()
        left_by_the_killed_run = _reported(billing)
        assert left_by_the_killed_run <= set(databases_named(outside, prefix))

        result = billing.runpytest_subprocess("-p", "no:xdist", "test_linger.py")

        result.assert_outcomes(passed=2)
    finally:
        lease_holder.close()
    result.stdout.fnmatch_lines(
        [
            "uow: reaped 2 worker database(s) left by runs that died: "
            + ", ".join(sorted(left_by_the_killed_run))
        ]
    )
    left = set(databases_named(outside, prefix))
    assert {impostor, kept, leased, misnamed} <= left
    assert not left & left_by_the_killed_run


def test_keep_leaves_the_worker_database_for_inspection(
    billing: pytest.Pytester, outside: Engine, prefix: str
) -> None:
    billing.copy_example("database/test_linger.py")

    result = billing.runpytest_subprocess("-p", "no:xdist", "--uow-keep", "test_linger.py")

    result.assert_outcomes(passed=2)
    (kept,) = _reported(billing)
    result.stdout.fnmatch_lines([f"uow: worker databases {kept} kept"])
    assert databases_named(outside, prefix)[kept][3].startswith("pytest-uow kept: ")
    again = billing.runpytest_subprocess("-p", "no:xdist", "test_linger.py")
    again.assert_outcomes(passed=2)
    assert kept in databases_named(outside, prefix), "a kept database is never reaped"

    replacing = billing.runpytest_subprocess("-p", "no:xdist", "--uow-keep", "test_linger.py")

    replacing.assert_outcomes(passed=2)
    replacing.stdout.fnmatch_lines(
        [f"uow: dropped 1 worker database(s) kept by earlier runs: {kept}"]
    )
    (kept_now,) = _kept_databases(outside, prefix)
    assert kept_now != kept

    dropping = billing.runpytest_subprocess("-p", "no:xdist", "--uow-drop-kept", "test_linger.py")

    dropping.assert_outcomes(passed=2)
    dropping.stdout.fnmatch_lines(
        [f"uow: dropped 1 worker database(s) kept by earlier runs: {kept_now}"]
    )
    assert _kept_databases(outside, prefix) == []


def _kept_databases(outside: Engine, prefix: str) -> list[str]:
    return [
        name
        for name, (_, _, _, comment) in databases_named(outside, prefix).items()
        if comment.startswith("pytest-uow kept: ")
    ]


def test_three_concurrent_runs_share_one_template(
    billing: pytest.Pytester, outside: Engine, prefix: str
) -> None:
    billing.copy_example("database/test_strategies.py")
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:randomly", "-q"],
            cwd=billing.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert sum(" built in " in output for output in outputs) == 1, "built once, for all runs"
    assert len(_reported(billing)) == 6, "a database for each worker of each run"
    assert list(databases_named(outside, prefix)) == list(_templates(outside, prefix))


def test_recreate_ends_only_connections_the_test_left(
    billing: pytest.Pytester, outside: Engine, prefix: str
) -> None:
    billing.copy_example("database/test_leftover.py")

    result = billing.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*UowWarning: pytest-uow terminated 1 connection(s) of this worker holding locks "
            f"on worker database {prefix}_*_main, so that the reset after "
            "test_leftover.py::test_1_leaves_a_connection_open could run (pid *, idle in "
            "transaction, left by test_leftover.py::test_1_leaves_a_connection_open: SELECT 1)*"
        ]
    )
    assert list(databases_named(outside, prefix)) == list(_templates(outside, prefix))


def test_an_idle_pooled_connection_recreate_ends_is_said_to_be_connected_not_locking(
    billing: pytest.Pytester, prefix: str
) -> None:
    """The warning says what the connection was doing: idle after its COMMIT, it held no lock;
    it was only connected to the database that recreate replaced."""
    billing.copy_example("database/test_idle_pool.py")

    result = billing.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*UowWarning: pytest-uow terminated 1 connection(s) of this worker still connected "
            f"to worker database {prefix}_*_main, so that the reset after "
            "test_idle_pool.py::test_1_commits_through_an_engine_of_its_own could run (pid *, "
            "idle, left by test_idle_pool.py::test_1_commits_through_an_engine_of_its_own: "
            "COMMIT)*"
        ]
    )
    assert "holding locks" not in result.stdout.str()


def test_lacking_createdb_is_one_line_naming_the_privilege(
    billing: pytest.Pytester, outside: Engine, server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = f"nocreatedb_{os.urandom(4).hex()}"
    autocommit(outside, f"CREATE ROLE {role} LOGIN")
    url = make_url(server_url).set(username=role)
    monkeypatch.setenv("UOW_DATABASE_URL", url.render_as_string(hide_password=False))
    billing.copy_example("database/test_linger.py")
    try:
        result = billing.runpytest_subprocess("-p", "no:xdist", "test_linger.py")
    finally:
        autocommit(outside, f"DROP ROLE {role}")

    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "pytest-uow could not create worker database *: InsufficientPrivilege: "
            "permission denied to create database; the user named in uow_database_url "
            "(environment UOW_DATABASE_URL) needs the CREATEDB privilege (ALTER ROLE ... "
            "CREATEDB); UOW_ISOLATION=schema needs only CREATE on one database"
        ]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.throwaway
def test_database_mode_on_the_throwaway_server(
    billing: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UOW_DATABASE_URL")
    billing.copy_example("database/test_strategies.py")
    billing.makepyprojecttoml(BILLING_INI.replace('uow_isolation = "database"\n', ""))

    result = billing.runpytest_subprocess("-n", "2", "--uow-isolation=database")

    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(
        [
            "uow: isolation=database (command line --uow-isolation)",
            "uow: throwaway PostgreSQL *",
            "uow: template uow_tpl_* built in *; 2 worker database(s)*",
        ]
    )


def test_schema_mode_is_unchanged_by_the_billing_project(project: pytest.Pytester) -> None:
    """The refusal in one line, at start-up, in a real run (the text: test_settings)."""
    project.copy_example("database/billing.py")
    project.makepyprojecttoml(PROJECT_INI.replace("app:metadata", "billing:metadata"))

    result = project.runpytest_subprocess("-p", "no:xdist")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*set UOW_ISOLATION=database*"])


def test_leaks_are_found_in_the_worker_database_and_in_the_servers(
    billing: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with own_database.begin() as connection:
        connection.execute(text("CREATE TABLE public.audit (note text)"))
    app_url = own_database.url.render_as_string(hide_password=False)
    monkeypatch.setenv("APP_URL", app_url)
    billing.copy_example("database/test_leaky.py")

    result = billing.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", "--uow-check-leaks"
    )

    result.assert_outcomes(passed=3, errors=2)
    found = "pytest-uow found rows that test_leaky.py::{} left behind (uow_check_leaks, "
    found += "command line --uow-check-leaks): "
    result.stdout.fnmatch_lines(
        [
            "*pytest-uow: test_leaky.py::test_1_commits_through_a_connection_of_its_own wrote "
            "to worker database *_main outside its rollback transaction (public.customers, "
            "committed by a connection of test_leaky.py::test_1_* (pid *)); returned to the "
            "baseline: public.customers; let that connection join the test * (uow_check_leaks, "
            "command line --uow-check-leaks)",
            found.format("test_2_writes_to_the_servers_database_through_a_libpq_connection")
            + "rows written outside the worker namespaces while it ran: "
            f"{own_database.url.database}.public.audit (1 row) (through an engine or connection "
            "that does not use the worker's namespace; use the uow fixtures or uow_sessionmakers)",
        ]
    )
    with own_database.connect() as connection:
        notes = connection.execute(text("SELECT note FROM public.audit")).scalars().all()
    assert notes == ["from test 2"], "reported, never touched"
