"""Database mode's template: what a run costs when it builds the template, and when it reuses one.

For each schema size, two runs of the same synthetic suite (``-n 2``, ``uow_isolation =
database``) against one server: the first builds the template, the second finds it by its hash
and only clones it. Prints, from each run's summary, how long the build took and how long the
workers waited for their databases (from asking for it to having it: reaping, the template, the
clone; not the import of the database driver), and the whole run's wall time.

    python benchmarks/templates.py                 # a throwaway server (data in RAM)
    UOW_DATABASE_URL=postgresql://... python benchmarks/templates.py   # a real server

The throwaway server stays up for all the runs here, as a real server would; the templates are
dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).parent))

from compare import drop_templates, run_pytest
from synthetic import write_suite

import pytest_uow

PREFIX = "uowtpl"
_TEMPLATE_LINE = re.compile(
    r"uow: template \S+ (built in ([\d.]+) s|reused, built by an earlier run); "
    r"(\d+) worker database\(s\) cloned from it, ready in (\d+)-(\d+) ms"
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tables", type=int, nargs="+", default=[10, 50, 200], metavar="N", help="schema sizes"
    )
    parser.add_argument("--tests", type=int, default=20, metavar="N", help="tests per suite")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    configured = os.environ.get("UOW_DATABASE_URL")
    lines = [
        f"{'tables':>6} {'run':9} {'template':>12} {'worker ready ms (min-max)':>26} {'wall s':>7}"
    ]
    with contextlib.ExitStack() as stack:
        server_url = make_url(configured or stack.enter_context(pytest_uow.throwaway_server()))
        if "+" not in server_url.drivername:
            server_url = server_url.set(drivername="postgresql+psycopg2")
        server = server_url.render_as_string(hide_password=False)
        admin = create_engine(server_url, poolclass=NullPool)
        try:
            for tables in args.tables:
                with tempfile.TemporaryDirectory(prefix="uow-templates-") as directory:
                    write_suite(
                        Path(directory), tables=tables, tests=args.tests, rows=1, variant="truncate"
                    )
                    for run in ("first", "second"):
                        wall, output = run_pytest(
                            Path(directory),
                            [
                                f"--uow-url={server}",
                                "--uow-isolation=database",
                                f"--uow-schema-prefix={PREFIX}",
                                "-n",
                                "2",
                            ],
                            dict(os.environ),
                        )
                        match = _TEMPLATE_LINE.search(output)
                        if match is None:
                            raise SystemExit(f"no template figures in:\n{output[-2000:]}")
                        built = (
                            f"built {float(match.group(2)):.2f} s" if match.group(2) else "reused"
                        )
                        lines.append(
                            f"{tables:>6} {run:9} {built:>12} "
                            f"{match.group(4):>17}-{match.group(5):<8} {wall:7.2f}"
                        )
        finally:
            drop_templates(admin, PREFIX)
            admin.dispose()
    print("server:", "UOW_DATABASE_URL" if configured else "throwaway (data in RAM)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
