"""Ready to publish: ``python -m build`` makes an sdist and a wheel that ``twine check``
accepts, from a copy of the source tree; the wheel, installed (not editable) into a fresh
virtual environment, runs a suite under pytest-xdist. The version lives in ``pyproject.toml``
only, and CHANGELOG.md keeps the Keep a Changelog form."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest
import trove_classifiers
from sqlalchemy.engine import Engine

import pytest_uow
from tests.conftest import schemas_named

ROOT = Path(__file__).parents[2]
VERSION = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
# Where Keep a Changelog lets a release's changes go.
KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


def _version() -> str:
    assert VERSION is not None, "pyproject.toml gives the version"
    return VERSION.group(1)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built as a release would be: the wheel from the sdist."""
    directory = tmp_path_factory.mktemp("dist")
    source = directory / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            "__pycache__",
            "*.egg-info",
            ".tox",
            ".venv",
            "venv",
            "build",
            "dist",
            ".mypy_cache",
            ".ruff_cache",
            ".pytest_cache",
            "results",
        ),
    )
    out = directory / "out"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def _one(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def test_build_makes_an_sdist_and_a_wheel_that_twine_accepts(dist: Path) -> None:
    names = sorted(path.name for path in dist.iterdir())
    version = _version()

    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )

    assert names == [f"pytest_uow-{version}-py3-none-any.whl", f"pytest_uow-{version}.tar.gz"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_wheel_holds_every_module_the_entry_point_and_the_typing_marker(dist: Path) -> None:
    package = ROOT / "src" / "pytest_uow"
    expected = {
        path.relative_to(package.parent).as_posix()
        for path in package.rglob("*")
        if path.suffix in (".py", ".typed") and "__pycache__" not in path.parts
    }
    with zipfile.ZipFile(_one(dist, "*.whl")) as wheel:
        names = set(wheel.namelist())
        info = f"pytest_uow-{_version()}.dist-info"
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        metadata = wheel.read(f"{info}/METADATA").decode()

    assert {name for name in names if not name.startswith(info)} == expected
    assert "[pytest11]\nuow = pytest_uow.plugin" in entry_points
    assert f"\nVersion: {_version()}\n" in metadata
    assert "Requires-Dist: SQLAlchemy<3,>=1.4.49" in metadata


def test_the_classifiers_are_known_to_pypi_and_say_it_is_a_pytest_plugin(dist: Path) -> None:
    with zipfile.ZipFile(_one(dist, "*.whl")) as wheel:
        metadata = wheel.read(f"pytest_uow-{_version()}.dist-info/METADATA").decode()
    classifiers = re.findall(r"^Classifier: (.+)$", metadata, re.M)

    assert set(classifiers) <= trove_classifiers.classifiers, (
        set(classifiers) - trove_classifiers.classifiers
    )
    assert "Framework :: Pytest" in classifiers
    assert "Typing :: Typed" in classifiers


def test_the_sdist_holds_what_a_packager_needs_to_test_it(dist: Path) -> None:
    with tarfile.open(_one(dist, "*.tar.gz")) as sdist:
        names = {name.partition("/")[2] for name in sdist.getnames()}

    assert {
        "README.md",
        "CHANGELOG.md",
        "pyproject.toml",
        "src/pytest_uow/plugin.py",
        "tests/conftest.py",
        "tests/inner/project/app.py",
        "docs/ci/github-actions.yml",
        "mkdocs.yml",
        "docs/hooks.py",
        "docs/index.md",
    } <= names
    assert not [name for name in names if "__pycache__" in name]


def test_the_version_is_given_once_and_read_from_the_installed_metadata() -> None:
    sources = [
        path
        for path in (ROOT / "src").rglob("*.py")
        if re.search(rf"""['"]{re.escape(_version())}['"]""", path.read_text())
    ]

    assert pytest_uow.__version__ == _version()
    assert sources == [], "the version is written in pyproject.toml only"


def test_the_changelog_keeps_the_keep_a_changelog_form() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (.+)$", changelog, re.M)
    kinds = re.findall(r"^### (.+)$", changelog, re.M)

    assert changelog.startswith("# Changelog\n")
    assert "[Keep a Changelog](https://keepachangelog.com/en/1.1.0/)" in changelog
    assert releases[0] == "[Unreleased]"
    for release in releases[1:]:
        assert re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", release), release
    assert set(kinds) <= set(KINDS), set(kinds) - set(KINDS)


SUITE = """
import sys

import pytest_uow
from sqlalchemy import text


def test_the_plugin_comes_from_the_installed_wheel():
    assert pytest_uow.__file__.startswith(sys.prefix), pytest_uow.__file__


def test_a(uow_session):
    uow_session.execute(text("INSERT INTO notes (body) VALUES ('a')"))
    uow_session.commit()
    assert uow_session.execute(text("SELECT count(*) FROM notes")).scalar_one() == 1


def test_b(uow_session):
    uow_session.execute(text("INSERT INTO notes (body) VALUES ('b')"))
    uow_session.commit()
    assert uow_session.execute(text("SELECT count(*) FROM notes")).scalar_one() == 1
"""
APP = """
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", String))
"""


def test_the_wheel_in_a_fresh_virtual_environment_runs_a_suite_on_two_workers(
    dist: Path,
    pytester: pytest.Pytester,
    server_url: str,
    outside: Engine,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = pytester.path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(_one(dist, "*.whl"))],
        check=True,
        capture_output=True,
        timeout=600,
    )
    pytester.makepyfile(app=APP, test_suite=SUITE)
    pytester.makepyprojecttoml(
        textwrap.dedent(f"""
        [tool.pytest.ini_options]
        pythonpath = ["."]
        uow_metadata = "app:metadata"
        uow_schema_prefix = "{prefix}"
        """)
    )
    monkeypatch.setenv("UOW_DATABASE_URL", server_url)
    monkeypatch.delenv("PYTHONPATH", raising=False)

    result = subprocess.run(
        [str(python), "-m", "pytest", "-n", "2"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
    assert "uow: 2 worker schema(s) ready" in result.stdout
    assert schemas_named(outside, prefix) == []
