"""SQLAlchemy versions: 1.4, 2.0 and the newest 2.x are served (tox environments sa14 and sa20
run the suite on the older two); an older SQLAlchemy never breaks pytest for a project that does
not use the plugin, and a project that does is told in one line."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

OLDER_SQLALCHEMY = "sqlalchemy==1.3.24"


@pytest.fixture(scope="module")
def older_sqlalchemy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment seeing this one's packages (pytest-uow included), with SQLAlchemy
    1.3 installed over them. This environment's site directories are added after the new one's
    own (``--system-site-packages`` would add the base interpreter's, which inside a virtual
    environment do not hold pytest-uow)."""
    venv = tmp_path_factory.mktemp("sa13") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    outer = [*site.getsitepackages(), site.getusersitepackages()]
    (Path(own_site) / "outer_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in outer)
    )
    # Not the constraint of a tox environment pinning another SQLAlchemy.
    environment = {name: value for name, value in os.environ.items() if name != "PIP_CONSTRAINT"}
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            own_site,
            "--no-deps",
            OLDER_SQLALCHEMY,
        ],
        check=True,
        env=environment,
    )
    return python


def _pytest(python: Path, where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "-p",
            "no:xdist",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=where,
        # A project of its own: not this run's settings (CI's UOW_DATABASE_URL, say).
        env={name: value for name, value in os.environ.items() if not name.startswith("UOW_")},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_an_older_sqlalchemy_never_breaks_a_project_that_does_not_use_the_plugin(
    older_sqlalchemy: Path, tmp_path: Path
) -> None:
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")

    result = _pytest(older_sqlalchemy, tmp_path)
    declared = _pytest(older_sqlalchemy, tmp_path, "--help")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    # The plugin was there, on SQLAlchemy 1.3: its options are declared, its hooks are not.
    assert "--uow-url" in declared.stdout


def test_a_project_that_uses_the_plugin_is_told_in_one_line(
    older_sqlalchemy: Path, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nuow_metadata = "app:metadata"\n'
    )
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")

    result = _pytest(older_sqlalchemy, tmp_path)

    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.strip() == (
        "ERROR: pytest-uow needs SQLAlchemy 1.4.49 or newer (1.4, 2.0, 2.x); this environment "
        "has 1.3.24: pip install 'sqlalchemy>=1.4.49' (configured by uow_metadata)"
    )
