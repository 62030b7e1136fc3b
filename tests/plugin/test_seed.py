"""``uow_seed``: the rows a seed inserts are the baseline. ``rollback`` keeps them, ``truncate``
restores them (and the sequences' positions), ``recreate`` rebuilds with them, and the leak
detector reports only what differs from them, in both isolation modes."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from pytest_uow.compat import SQLALCHEMY_2
from tests.conftest import databases_named, project_ini, schemas_named

SHOP_INI = project_ini("shop:metadata", sessionmakers=False)


@pytest.fixture
def shop(project: pytest.Pytester) -> pytest.Pytester:
    project.copy_example("seed/shop.py")
    return project


@pytest.mark.parametrize(
    ("isolation", "mode"),
    [
        ("schema", ["-n", "2"]),
        ("database", ["-p", "no:xdist"]),
    ],
)
def test_every_strategy_returns_to_the_seeded_baseline(
    shop: pytest.Pytester, outside: Engine, own_prefix: str, isolation: str, mode: list[str]
) -> None:
    shop.makepyprojecttoml(SHOP_INI + 'uow_seed = "shop:seed"\n')
    shop.copy_example("seed/test_baseline.py")

    result = shop.runpytest_subprocess(
        *mode, f"--uow-isolation={isolation}", f"--uow-schema-prefix={own_prefix}"
    )

    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(["uow: seed=shop:seed (ini uow_seed in pyproject.toml)"])
    assert schemas_named(outside, own_prefix) == []
    left = list(databases_named(outside, own_prefix))
    assert all(name.startswith(f"{own_prefix}_tpl_") for name in left), left


def test_the_leak_detector_reports_only_what_differs_from_the_seed(
    shop: pytest.Pytester, own_database: Engine
) -> None:
    shop.makepyprojecttoml(SHOP_INI)
    shop.copy_example("seed/test_leaky.py")

    result = shop.runpytest_subprocess(
        "-p", "no:xdist", "-p", "no:randomly", "--uow-seed=shop:seed", "--uow-check-leaks"
    )

    result.assert_outcomes(passed=3, errors=2)
    # Both wrote through connections outside their rollback transactions; what differs from
    # the seed (a country added, a seeded city deleted) is returned to it.
    escaped = (
        "*pytest-uow: test_leaky.py::{0} wrote to worker schema uow_*_main outside its rollback "
        "transaction (uow_*_main.{1}, committed by a connection of test_leaky.py::{0} (pid *)); "
        "returned to the baseline: uow_*_main.{1}; let that connection join the test * "
        "(uow_check_leaks, command line --uow-check-leaks)"
    )
    result.stdout.fnmatch_lines(
        [
            "uow: seed=shop:seed (command line --uow-seed)",
            escaped.format("test_1_adds_a_country_through_a_connection_of_its_own", "countries"),
            escaped.format(
                "test_2_deletes_a_seeded_city_through_a_connection_of_its_own", "cities"
            ),
        ]
    )


def test_a_seed_that_fails_is_one_line(shop: pytest.Pytester) -> None:
    shop.makepyprojecttoml(SHOP_INI + 'uow_seed = "shop:broken_seed"\n')
    shop.copy_example("seed/test_leaky.py")

    result = shop.runpytest_subprocess(
        "-p", "no:xdist", "test_leaky.py::test_3_starts_from_the_seed"
    )

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "pytest-uow could not create worker schema uow_*_main on *: uow_seed shop:broken_seed "
            "raised StringDataRightTruncation: value too long for type character varying(2)"
        ]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    "seed",
    [
        "shop:seed_with_a_session",
        "shop:seed_with_an_async_session",
        "shop:seed_with_the_apps_engine",
    ],
)
def test_a_seed_gets_what_its_signature_asks_for(
    shop: pytest.Pytester,
    own_database: Engine,
    own_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    seed: str,
) -> None:
    """A Session of the class its annotation names, an AsyncSession for an async seed, or
    nothing (the application's own engine on the configured database joins the build); the
    configured database's own tables are never written."""
    monkeypatch.setenv("APP_URL", own_database.url.render_as_string(hide_password=False))
    shop.makepyprojecttoml(SHOP_INI + f'uow_seed = "{seed}"\n')
    shop.copy_example("seed/test_baseline.py")

    result = shop.runpytest_subprocess("-n", "2", f"--uow-schema-prefix={own_prefix}")

    result.assert_outcomes(passed=9)
    assert schemas_named(own_database, own_prefix) == []
    assert inspect(own_database).get_table_names(schema="public") == []


def test_a_seed_taking_nothing_needs_a_configured_server(
    shop: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UOW_DATABASE_URL")
    shop.makepyprojecttoml(SHOP_INI + 'uow_seed = "shop:seed_with_the_apps_engine"\n')

    result = shop.runpytest_subprocess("-p", "no:xdist")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: uow_seed: 'shop:seed_with_the_apps_engine' from ini uow_seed in "
            "pyproject.toml: takes no argument, so it writes through the application's own "
            "engines, which reach the worker namespace only when uow_database_url names their "
            "database: set uow_database_url, or give the seed a Connection or Session parameter"
        ]
    )


@pytest.mark.skipif(not SQLALCHEMY_2, reason="SQLAlchemy 1.4 has no psycopg (3) dialect")
def test_a_seed_whose_engine_has_another_driver_is_one_line(
    shop: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build's connection is lent only to engines of its own driver (psycopg2 here)."""
    app_url = own_database.url.set(drivername="postgresql+psycopg")
    monkeypatch.setenv("APP_URL", app_url.render_as_string(hide_password=False))
    shop.makepyprojecttoml(SHOP_INI + 'uow_seed = "shop:seed_with_the_apps_engine"\n')
    shop.makepyfile(test_one="def test_one(uow_session):\n    pass\n")

    result = shop.runpytest_subprocess("-p", "no:xdist", "test_one.py")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*an application engine of driver psycopg connected while pytest-uow builds the "
            "worker namespace on its psycopg2 connection, which it lends only to engines of that "
            "driver: name the application's driver in uow_database_url "
            "(postgresql+psycopg://...), or give the seed a Connection or Session*"
        ]
    )
    assert inspect(own_database).get_table_names(schema="public") == []
