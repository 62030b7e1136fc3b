"""What building worker namespaces from Alembic migrations costs, against ``create_all``.

Writes a synthetic chain of N migrations (each creates one table of the same foreign-key chain
as the models ``compare.py`` uses), then runs the same 20-test suite (``-n 2``, schema mode)
three times: with ``uow_metadata`` (``create_all``), with ``uow_alembic`` and an empty
migration cache (the first worker migrates, the other replays), and with ``uow_alembic`` again
(every worker replays; no migration code runs). Prints each run's wall time and, from the
plugin's summary, how long the workers waited for their namespaces.

``--example`` does the same with ``examples/allocation`` (its two migrations and its seed, 24
tests), in a copy whose pyproject is rewritten for the ``create_all`` run; a fourth run adds
``--uow-check-migrations``, to show what the checks cost a run.

    python benchmarks/migrations.py                  # 40 migrations
    python benchmarks/migrations.py --migrations 10
    python benchmarks/migrations.py --example
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from compare import run_pytest
from synthetic import write_suite

EXAMPLE = Path(__file__).parent.parent / "examples" / "allocation"
_READY_LINE = re.compile(r"uow: (\d+) worker schema\(s\) ready in (\d+)-(\d+) ms")

ENV_PY = """
from alembic import context

config = context.config
connectable = config.attributes.get("connection", None)
context.configure(connection=connectable)
with context.begin_transaction():
    context.run_migrations()
"""

MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down_revision}


def upgrade():
    columns = [sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50))]
    if {index}:
        columns.append(sa.Column("parent_id", sa.Integer, sa.ForeignKey("{parent}.id")))
    op.create_table("{table}", *columns)
"""


def write_migrations(root: Path, count: int) -> None:
    """``alembic.ini`` and a chain of ``count`` migrations, table t000 to t<count-1>."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    (root / "migrations" / "env.py").write_text(textwrap.dedent(ENV_PY))
    for index in range(count):
        (versions / f"{index:04}_t{index:03}.py").write_text(
            textwrap.dedent(
                MIGRATION.format(
                    revision=f"{index:04}",
                    down_revision=repr(f"{index - 1:04}") if index else None,
                    index=index,
                    parent=f"t{index - 1:03}",
                    table=f"t{index:03}",
                )
            )
        )


def _measured(root: Path, runs: list[tuple[str, list[str]]], env: dict[str, str]) -> list[str]:
    """One line per run: its wall time and how long its workers waited for their namespaces."""
    lines = []
    for label, extra in runs:
        wall, output = run_pytest(root, ["-n", "2", *extra], env)
        match = _READY_LINE.search(output)
        if match is None:
            raise SystemExit(f"no readiness figures in:\n{output[-2000:]}")
        lines.append(f"{label:34} {wall:7.2f} {match.group(2):>18}-{match.group(3):<8}")
    return lines


def _example_runs(root: Path) -> list[tuple[str, list[str]]]:
    """A copy of the example, and its runs: the create_all one from a pyproject without
    uow_alembic (the -o override cannot unset it), the others through the command line."""
    shutil.copytree(EXAMPLE, root / "example", ignore=shutil.ignore_patterns("__pycache__"))
    pyproject = root / "example" / "pyproject.toml"
    kept = [
        line
        for line in pyproject.read_text().splitlines()
        if not line.startswith(("uow_alembic", "uow_check_migrations"))
    ]
    pyproject.write_text("\n".join(kept) + "\n")
    alembic = ["--uow-alembic=alembic.ini"]
    return [
        ("uow_metadata (create_all)", []),
        ("uow_alembic, first run", alembic),
        ("uow_alembic, repeat run", alembic),
        ("uow_alembic, repeat, checks on", [*alembic, "--uow-check-migrations"]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--migrations", type=int, default=40, metavar="N")
    parser.add_argument("--tests", type=int, default=20, metavar="N")
    parser.add_argument("--example", action="store_true", help="measure examples/allocation")
    args = parser.parse_args(argv)
    header = f"{'build':34} {'wall s':>7} {'workers ready ms (min-max)':>27}"
    with tempfile.TemporaryDirectory(prefix="uow-migrations-") as directory:
        root = Path(directory)
        env = dict(os.environ, XDG_CACHE_HOME=str(root / "cache"))
        if args.example:
            runs = _example_runs(root)
            lines = _measured(root / "example", runs, env)
            print("examples/allocation: 2 migrations, a seed, 24 tests, -n 2, schema mode")
        else:
            write_suite(root, tables=args.migrations, tests=args.tests, rows=1, variant="rollback")
            write_migrations(root, args.migrations)
            runs = [
                ("uow_metadata (create_all)", []),
                ("uow_alembic, first run", ["--uow-alembic=alembic.ini"]),
                ("uow_alembic, repeat run", ["--uow-alembic=alembic.ini"]),
            ]
            lines = _measured(root, runs, env)
            print(f"{args.migrations} migrations, {args.tests} tests, -n 2, schema mode")
    print("\n".join([header, *lines]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
