"""The examples, run the way their developers would run them: examples/allocation (the Cosmic
Python showcase), examples/fastapi_async and examples/flask_notes pass their whole test suites
in random order under -n 0 and -n 2 and leave nothing behind; allocation on schemas its Alembic
migrations build, with its reference data and its migrations checked."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from pytest_uow.compat import SQLALCHEMY_2
from tests.conftest import PublicGuard, schemas_named

EXAMPLES = Path(__file__).parents[2] / "examples"
EXAMPLE = EXAMPLES / "allocation"


# -n auto is -n 2 on the 2-core machines this runs on: the two modes are enough.
@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["n0", "n2"])
def test_example_suite_passes_and_leaves_nothing(
    server_url: str, outside: Engine, public_guard: PublicGuard, prefix: str, mode: list[str]
) -> None:
    before = public_guard.fingerprint()
    env = dict(os.environ, UOW_DATABASE_URL=server_url)
    result = _run_example(EXAMPLE, env, *mode, f"--uow-schema-prefix={prefix}")

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    # 27 tests of the application, 4 checks of its migrations; the browser test is skipped
    # where there is no Chromium, or no Playwright (tox's version environments have none).
    if shutil.which("chromium") and importlib.util.find_spec("playwright") is not None:
        assert re.search(r"\b31 passed\b", result.stdout), result.stdout[-2000:]
    else:
        assert re.search(r"\b30 passed, 1 skipped\b", result.stdout), result.stdout[-2000:]
    assert "Using --randomly-seed=" in result.stdout, "the order is shuffled"
    # The concurrency test, the two catalogue tests and the child-process e2e test.
    assert "uow: reset truncate: 4 tests" in result.stdout
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before


@pytest.mark.skipif(
    not SQLALCHEMY_2,
    reason="examples/fastapi_async is written for SQLAlchemy 2 (async_sessionmaker)",
)
@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["n0", "n2"])
def test_async_example_suite_passes_and_leaves_nothing(
    server_url: str, outside: Engine, public_guard: PublicGuard, prefix: str, mode: list[str]
) -> None:
    before = public_guard.fingerprint()
    env = dict(os.environ, UOW_DATABASE_URL=server_url)
    # The inner runs block plugins other than this project's; the example needs pytest-asyncio.
    args = ["-p", "asyncio", *mode, f"--uow-schema-prefix={prefix}"]

    result = _run_example(EXAMPLES / "fastapi_async", env, *args)

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    # 4 unit tests with fakes, 5 integration tests, 7 API tests (one beside the middleware).
    assert re.search(r"\b16 passed\b", result.stdout), result.stdout[-2000:]
    assert "Using --randomly-seed=" in result.stdout, "the order is shuffled"
    assert "uow: reset truncate: 1 test," in result.stdout, "the concurrency test commits"
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before


@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["n0", "n2"])
def test_flask_sqlalchemy_example_suite_passes_and_leaves_nothing(
    server_url: str, outside: Engine, public_guard: PublicGuard, prefix: str, mode: list[str]
) -> None:
    before = public_guard.fingerprint()
    # The app's own database: nothing listens there, so every view must be re-bound.
    env = dict(
        os.environ,
        UOW_DATABASE_URL=server_url,
        NOTES_DATABASE_URL="postgresql+psycopg2://notes@127.0.0.1:1/notes?connect_timeout=1",
    )

    result = _run_example(EXAMPLES / "flask_notes", env, *mode, f"--uow-schema-prefix={prefix}")

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    # 4 API tests through the test client, 3 model tests in an app context the test pushes.
    assert re.search(r"\b7 passed\b", result.stdout), result.stdout[-2000:]
    assert "Using --randomly-seed=" in result.stdout, "the order is shuffled"
    assert "uow: reset truncate: 1 test," in result.stdout
    assert "UowWarning" not in result.stdout
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before


@pytest.mark.skipif(
    not SQLALCHEMY_2 or importlib.util.find_spec("sqlmodel") is None,
    reason="examples/fastapi_sqlmodel is written for SQLModel, on SQLAlchemy 2",
)
@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["n0", "n2"])
def test_sqlmodel_example_adopts_the_plugin_by_settings_alone(
    server_url: str, outside: Engine, public_guard: PublicGuard, prefix: str, mode: list[str]
) -> None:
    """The app's engine behind ``Depends(get_db)`` names the configured database, its
    migrations create uuid-ossp through the generated env.py, init_db(session) seeds: no
    fixture of the suite knows about the plugin."""
    before = public_guard.fingerprint()
    env = dict(os.environ, UOW_DATABASE_URL=server_url, DATABASE_URL=server_url)

    result = _run_example(
        EXAMPLES / "fastapi_sqlmodel", env, *mode, f"--uow-schema-prefix={prefix}"
    )

    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b7 passed\b", result.stdout), result.stdout[-2000:]
    assert "Using --randomly-seed=" in result.stdout, "the order is shuffled"
    assert schemas_named(outside, prefix) == []
    assert public_guard.fingerprint() == before, "the superuser's deletion stayed in the test"
    with outside.connect() as connection:
        in_public = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_extension WHERE extname = 'uuid-ossp' "
            "AND extnamespace = 'public'::regnamespace"
        ).scalar()
    assert in_public == 0, "uuid-ossp was installed where the plugin cannot take it back"


def _run_example(where: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "randomly", *args]
    return subprocess.run(
        command, cwd=where, env=env, capture_output=True, text=True, check=False, timeout=600
    )
