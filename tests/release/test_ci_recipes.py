"""The CI recipes in ``docs/ci/`` (included in the CI guide from their files): what each relies on
is checked by reading it, and the commands they run are run. The sharded recipe is run as
four shards at once against one database, as a role that may create schemas there and nothing
else, the privilege a managed PostgreSQL (RDS, Cloud SQL) gives."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from pytest_uow.isolation.registry import ISOLATIONS
from pytest_uow.settings.options import ENVIRONMENT_VARIABLES
from pytest_uow.settings.resolve import parse_url
from tests.conftest import PublicGuard, autocommit, schemas_named

ROOT = Path(__file__).parents[2]
RECIPES = ROOT / "docs" / "ci"
SHARD_PLACEHOLDERS = ("${{ matrix.group }}", "$CI_NODE_INDEX")


@dataclass(frozen=True)
class Recipe:
    """What a CI file says about the database, the settings and the commands."""

    name: str
    service: dict[str, str]  # the PostgreSQL container's POSTGRES_* variables
    host: str  # how the job reaches the service
    port: int
    env: dict[str, str]  # the job's variables other than the service's
    commands: list[str]
    groups: list[str]  # the shards' group numbers; empty when the suite is not split

    def command_for(self, group: str | None = None) -> list[str]:
        """The test command as the shell of that job would run it."""
        command = self.commands[-1].replace("$CI_NODE_TOTAL", str(len(self.groups)))
        for placeholder in SHARD_PLACEHOLDERS:
            command = command.replace(placeholder, group or "")
        return shlex.split(command)


def _github(path: Path) -> Recipe:
    job = yaml.safe_load(path.read_text())["jobs"]["test"]
    service = job["services"]["postgres"]
    (ports,) = service["ports"]
    published, _, container = ports.partition(":")
    assert container == "5432", "the container's PostgreSQL port is published"
    groups = job.get("strategy", {}).get("matrix", {}).get("group", [])
    return Recipe(
        path.name,
        service["env"],
        "localhost",
        int(published),
        job["env"],
        [step["run"] for step in job["steps"] if "run" in step],
        [str(group) for group in groups],
    )


def _gitlab(path: Path) -> Recipe:
    job = yaml.safe_load(path.read_text())["test"]
    (service,) = job["services"]
    variables: dict[str, Any] = job["variables"]
    parallel = int(job.get("parallel", 0))
    return Recipe(
        path.name,
        {name: value for name, value in variables.items() if name.startswith("POSTGRES_")},
        service["alias"],
        5432,
        {name: value for name, value in variables.items() if not name.startswith("POSTGRES_")},
        job["script"],
        [str(group) for group in range(1, parallel + 1)],
    )


READERS = {
    "github-actions.yml": _github,
    "github-actions-sharded.yml": _github,
    "gitlab-ci.yml": _gitlab,
    "gitlab-ci-sharded.yml": _gitlab,
}


def _recipe(name: str) -> Recipe:
    return READERS[name](RECIPES / name)


def test_every_recipe_in_docs_ci_is_read_here() -> None:
    assert sorted(path.name for path in RECIPES.iterdir()) == sorted(READERS)


@pytest.mark.parametrize("name", sorted(READERS))
def test_the_recipe_points_the_plugin_at_its_service(name: str) -> None:
    recipe = _recipe(name)

    url = parse_url(recipe.env["UOW_DATABASE_URL"])

    assert (url.username, url.password, url.database) == (
        recipe.service["POSTGRES_USER"],
        recipe.service["POSTGRES_PASSWORD"],
        recipe.service["POSTGRES_DB"],
    )
    assert (url.host, url.port) == (recipe.host, recipe.port)
    assert recipe.env["UOW_ISOLATION"] in ISOLATIONS
    settings = [variable for variable in recipe.env if variable.startswith("UOW_")]
    assert set(settings) <= set(ENVIRONMENT_VARIABLES), settings


@pytest.mark.parametrize("name", sorted(READERS))
def test_the_recipe_installs_the_test_extra_and_runs_pytest_on_every_core(name: str) -> None:
    recipe = _recipe(name)

    assert recipe.commands[0] == "pip install -e '.[test]'"
    assert recipe.command_for()[:3] == ["pytest", "-n", "auto"]


@pytest.mark.parametrize("name", [name for name in sorted(READERS) if "sharded" in name])
def test_a_sharded_recipe_gives_each_group_its_number_once(name: str) -> None:
    recipe = _recipe(name)

    assert recipe.groups == ["1", "2", "3", "4"]
    for group in recipe.groups:
        command = recipe.command_for(group)
        assert command[3:] == ["--splits", "4", "--group", group]


def test_the_ci_guide_includes_every_recipe_from_its_file() -> None:
    guide = (ROOT / "docs" / "guides" / "ci.md").read_text()
    for name in READERS:
        assert f'--8<-- "docs/ci/{name}"' in guide, name


SUITE = """
import os
from pathlib import Path

import pytest
from sqlalchemy import text


@pytest.mark.parametrize("n", range(16))
def test_write(uow_session, n, request):
    schema = uow_session.execute(text("SELECT current_schema()")).scalar_one()
    Path(os.environ["REPORT_DIR"], f"{n}").write_text(schema)
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('b', :n)"), {"n": n})
    uow_session.commit()
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 1


@pytest.mark.uow(strategy="truncate")
@pytest.mark.parametrize("n", range(16, 20))
def test_commit_for_real(uow_session, n):
    schema = uow_session.execute(text("SELECT current_schema()")).scalar_one()
    Path(os.environ["REPORT_DIR"], f"{n}").write_text(schema)
    uow_session.execute(text("INSERT INTO batches (reference, qty) VALUES ('b', :n)"), {"n": n})
    uow_session.commit()
    assert uow_session.execute(text("SELECT count(*) FROM batches")).scalar_one() == 1
"""


@pytest.fixture
def schema_only_role(outside: Engine, server_url: str) -> Iterator[str]:
    """A role that may log in and create schemas in the server URL's database, and no more:
    not a superuser, no CREATEDB, no CREATEROLE."""
    role = f"shards_{secrets.token_hex(4)}"
    database = make_url(server_url).database
    autocommit(
        outside,
        f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE",
        f"GRANT CREATE ON DATABASE {database} TO {role}",
    )
    try:
        yield role
    finally:
        autocommit(outside, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def _passed(output: str) -> int:
    found = re.search(r"(\d+) passed", output)
    return int(found.group(1)) if found else 0


def _environment(recipe: Recipe, url: str, prefix: str, reports: Path) -> dict[str, str]:
    """The job's environment: its settings, the server URL aimed at this machine's server."""
    variables = {name: value for name, value in os.environ.items() if not name.startswith("UOW_")}
    return {
        **variables,
        **recipe.env,
        "UOW_DATABASE_URL": url,
        "UOW_SCHEMA_PREFIX": prefix,
        "REPORT_DIR": str(reports),
    }


def test_the_recipe_command_runs_the_suite_with_the_recipes_settings(
    project: pytest.Pytester, outside: Engine, server_url: str, prefix: str
) -> None:
    recipe = _recipe("github-actions.yml")
    project.makepyfile(test_suite=SUITE)
    reports = project.mkdir("reports")

    result = subprocess.run(
        [sys.executable, "-m", *recipe.command_for(), "-p", "no:randomly"],
        cwd=project.path,
        env=_environment(recipe, server_url, prefix, reports),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-3000:]
    assert "20 passed" in result.stdout
    assert "uow: isolation=schema (environment UOW_ISOLATION)" in result.stdout
    assert schemas_named(outside, prefix) == []


def test_four_shards_at_once_against_one_database_as_a_role_that_may_only_create_schemas(
    project: pytest.Pytester,
    outside: Engine,
    server_url: str,
    prefix: str,
    schema_only_role: str,
    public_guard: PublicGuard,
) -> None:
    before = public_guard.fingerprint()
    recipe = _recipe("github-actions-sharded.yml")
    project.makepyfile(test_suite=SUITE)
    reports = project.mkdir("reports")
    url = make_url(server_url).set(username=schema_only_role, password=None)
    environment = _environment(recipe, url.render_as_string(hide_password=False), prefix, reports)
    shards = [
        subprocess.Popen(
            # Two workers each, as on a two-core machine, whatever this machine has.
            [sys.executable, "-m", *recipe.command_for(group), "-p", "no:randomly"],
            cwd=project.path,
            env={**environment, "PYTEST_XDIST_AUTO_NUM_WORKERS": "2"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for group in recipe.groups
    ]

    outputs = [shard.communicate(timeout=300)[0] for shard in shards]

    assert [shard.returncode for shard in shards] == [0, 0, 0, 0], outputs
    passed = [_passed(output) for output in outputs]
    assert sum(passed) == 20, passed
    assert min(passed) >= 4, f"pytest-split gives each group its share: {passed}"
    schemas = {path.read_text() for path in reports.iterdir()}
    assert len(list(reports.iterdir())) == 20, "every test ran, in one shard only"
    runs = {schema.split("_")[1] for schema in schemas}
    assert len(runs) == 4, f"each shard is a run of its own: {sorted(schemas)}"
    assert schemas_named(outside, prefix) == []
    with outside.connect() as connection:
        owned = connection.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspowner = to_regrole(:role)"),
            {"role": schema_only_role},
        ).scalar_one()
    assert owned == 0
    assert public_guard.fingerprint() == before
