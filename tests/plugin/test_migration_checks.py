"""``uow_check_migrations``: the application's migrations checked once per run, in a scratch
namespace of their own, as test items ``uow::migrations::<check>`` with a line per problem."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.schema import DefaultClause

from pytest_uow.migrations.alembic import AlembicSource
from pytest_uow.migrations.checks import describe_difference
from tests.conftest import (
    ALEMBIC_INI,
    PublicGuard,
    databases_named,
    migrations_run,
    schemas_named,
)

CHECKED_INI = ALEMBIC_INI + 'uow_metadata = "models:metadata"\nuow_check_migrations = true\n'
CHECK_ITEMS = [
    "uow::migrations::single_head",
    "uow::migrations::upgrade_from_empty",
    "uow::migrations::models_match",
    "uow::migrations::downgrade_and_upgrade",
]


def test_the_checks_pass_as_items_of_their_own_once_per_run(
    migrated: pytest.Pytester,
    outside: Engine,
    own_prefix: str,
    tmp_path: Path,
    public_guard: PublicGuard,
) -> None:
    before = public_guard.fingerprint()
    migrated.makepyprojecttoml(CHECKED_INI)

    result = migrated.runpytest_subprocess("-n", "2", "-v", f"--uow-schema-prefix={own_prefix}")

    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines_random([f"*PASSED {item}*" for item in CHECK_ITEMS])
    result.stdout.fnmatch_lines(
        ["uow: check migrations=on (ini uow_check_migrations in pyproject.toml)"]
    )
    # One build (the other worker replays it), one upgrade from empty, one upgrade after the
    # downgrade to base: checks run per worker would have migrated twice more.
    assert Counter(migrations_run(tmp_path)) == {"0001": 3, "0002": 3, "0003": 3}
    assert schemas_named(outside, own_prefix) == [], "the scratch schema is dropped"
    assert public_guard.fingerprint() == before


def test_in_database_mode_the_checks_use_a_scratch_database(
    migrated: pytest.Pytester, outside: Engine, own_prefix: str
) -> None:
    result = migrated.runpytest_subprocess(
        "-p",
        "no:xdist",
        "-rs",
        "--uow-check-migrations",
        "--uow-isolation=database",
        f"--uow-schema-prefix={own_prefix}",
    )

    result.assert_outcomes(passed=9, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "uow: check migrations=on (command line --uow-check-migrations)",
            "SKIPPED [[]1[]] alembic.ini:1: uow_metadata is not set: no models to compare the "
            "migrations with",
        ]
    )
    left = list(databases_named(outside, own_prefix))
    assert all(name.startswith(f"{own_prefix}_tpl_") for name in left), left


def test_a_model_changed_without_a_migration_is_reported_by_name(
    migrated: pytest.Pytester,
) -> None:
    models = migrated.path / "models.py"
    models.write_text(
        models.read_text()
        .replace("sa.String(100)", "sa.String(200)")
        .replace(
            'sa.Column("name", sa.String(50), nullable=False),',
            'sa.Column("name", sa.String(50), nullable=False),\n'
            '    sa.Column("phone", sa.String(20)),',
        )
    )

    result = migrated.runpytest_subprocess(
        "-p", "no:xdist", "--uow-check-migrations", "--uow-metadata=models:metadata"
    )

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, passed=9)
    result.stdout.fnmatch_lines(
        [
            "*_ uow::migrations::models_match _*",
            "column customers.phone is in the models, but not in the migrated schema",
            "column customers.email: type VARCHAR(100) in the migrated schema, type VARCHAR(200) "
            "in the models",
        ]
    )


def test_a_failing_revision_fails_the_upgrade_check_and_the_checks_after_it_are_skipped(
    migrated: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated.makepyprojecttoml(CHECKED_INI)
    monkeypatch.setenv("BREAK_MIGRATION", "1")

    result = migrated.runpytest_subprocess("-p", "no:xdist", "-rs", "-k", "not test_")

    result.assert_outcomes(passed=1, failed=1, skipped=2, deselected=6)
    result.stdout.fnmatch_lines(
        [
            "*_ uow::migrations::upgrade_from_empty _*",
            'uow_alembic: revision 0003 failed: UndefinedTable: relation "no_such_table" does '
            "not exist, in ALTER TABLE no_such_table ADD COLUMN email text",
            "SKIPPED [[]2[]] alembic.ini:1: the upgrade from empty failed",
        ]
    )


def test_a_downgrade_that_leaves_a_table_behind_is_reported(migrated: pytest.Pytester) -> None:
    migrated.makepyprojecttoml(CHECKED_INI)
    first = migrated.path / "migrations" / "versions" / "0001_tables.py"
    first.write_text(first.read_text().replace('    op.drop_table("countries")\n', ""))

    result = migrated.runpytest_subprocess("-p", "no:xdist", "-k", "downgrade_and_upgrade")

    result.assert_outcomes(failed=1, deselected=9)
    result.stdout.fnmatch_lines(
        [
            "uow_alembic: after downgrading to base, countries is still there: a downgrade() "
            "does not drop what its upgrade() created",
            'uow_alembic: revision 0001 failed: DuplicateTable: relation "countries" already '
            "exists, in CREATE TABLE countries (*",
        ]
    )


def test_a_failing_downgrade_is_one_line_naming_its_revision(migrated: pytest.Pytester) -> None:
    migrated.makepyprojecttoml(CHECKED_INI)
    second = migrated.path / "migrations" / "versions" / "0002_countries.py"
    second.write_text(second.read_text().replace("DELETE FROM countries", "DELETE FROM nowhere"))

    result = migrated.runpytest_subprocess("-p", "no:xdist", "-k", "downgrade_and_upgrade")

    result.assert_outcomes(failed=1, deselected=9)
    result.stdout.fnmatch_lines(
        [
            "uow_alembic: the downgrade of revision 0002 failed: UndefinedTable: relation "
            '"nowhere" does not exist, in DELETE FROM nowhere*'
        ]
    )


def test_several_heads_fail_the_single_head_check_instead_of_the_start(
    migrated: pytest.Pytester,
) -> None:
    migrated.makepyprojecttoml(CHECKED_INI)
    (migrated.path / "migrations" / "versions" / "0003b_branch.py").write_text(
        'revision = "0003b"\ndown_revision = "0002"\n\n\ndef upgrade():\n    pass\n'
    )

    result = migrated.runpytest_subprocess(
        "-p", "no:xdist", "-rs", "-k", "single_head or downgrade"
    )

    result.assert_outcomes(failed=1, skipped=1, deselected=8)
    result.stdout.fnmatch_lines(
        [
            "uow_alembic: several heads (0003, 0003b): merge them with 'alembic merge heads' so "
            "that head is one revision",
            "SKIPPED [[]1[]] alembic.ini:1: several heads: the downgrades are checked from a "
            "single head",
        ]
    )


def test_the_check_without_uow_alembic_is_one_line_at_start_up(
    migrated: pytest.Pytester,
) -> None:
    migrated.makepyprojecttoml(
        '[tool.pytest.ini_options]\npythonpath = ["."]\nuow_metadata = "models:metadata"\n'
        "uow_check_migrations = true\n"
    )

    result = migrated.runpytest_subprocess("-p", "no:xdist")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: uow_check_migrations: 'True' from ini uow_check_migrations in "
            "pyproject.toml: there are no migrations to check; set uow_alembic to the path of "
            "alembic.ini"
        ]
    )


# Pure logic: what is said of Alembic's comparison results, and which downgrades exist.

_MODELS = sa.MetaData()
_CUSTOMERS = sa.Table("customers", _MODELS, sa.Column("id", sa.Integer, primary_key=True))


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            ("add_table", _CUSTOMERS),
            "table customers is in the models, but not in the migrated schema",
        ),
        (
            ("remove_column", None, "customers", sa.Column("fax", sa.String(20))),
            "column customers.fax is in the migrated schema, but not in the models",
        ),
        (
            ("modify_nullable", "billing", "invoices", "total", {}, True, False),
            "column billing.invoices.total: nullable in the migrated schema, NOT NULL in the "
            "models",
        ),
        (
            (
                "modify_default",
                None,
                "products",
                "version_number",
                {},
                None,
                DefaultClause(sa.text("0")),
            ),
            "column products.version_number: server default none in the migrated schema, "
            "server default '0' in the models",
        ),
        (
            ("add_index", sa.Index("ix_customers_id", _CUSTOMERS.c.id)),
            "index ix_customers_id on customers (id) is in the models, but not in the migrated "
            "schema",
        ),
    ],
)
def test_each_difference_is_one_line_naming_the_table_or_column(
    change: tuple[object, ...], line: str
) -> None:
    assert describe_difference(change) == line


def _revision(versions: Path, revision: str, down: str | None, downgrade_body: str) -> None:
    (versions / f"{revision}.py").write_text(
        f"revision = {revision!r}\ndown_revision = {down!r}\n\n\n"
        "def upgrade():\n    pass\n\n\n"
        f"def downgrade():\n{downgrade_body}\n"
    )


@pytest.mark.parametrize(
    ("bodies", "steps"),
    [
        (["    op.drop_table('a')", "    op.drop_table('b')"], [("r2", "r1"), ("r1", "base")]),
        (["    pass", "    '''Irreversible.'''\n    # nothing"], []),
        (["    pass", "    op.drop_table('b')"], [("r2", "r1")]),
    ],
    ids=["all", "none", "down to the first without one"],
)
def test_downgrades_are_checked_from_the_head_down_as_far_as_they_exist(
    tmp_path: Path, bodies: list[str], steps: list[tuple[str, str]]
) -> None:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text("config.attributes.get('connection')\n")
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    _revision(versions, "r1", None, bodies[0])
    _revision(versions, "r2", "r1", bodies[1])

    source = AlembicSource(tmp_path / "alembic.ini", "alembic.ini", "test")

    assert source.downgrade_steps == steps
