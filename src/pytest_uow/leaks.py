"""The leak detector (``--uow-check-leaks``): rows a test left where its reset cannot see them.

After each database test's reset it looks for two kinds of leak:

- rows still in the worker schema: something committed through a connection that the test's
  strategy does not undo (under ``rollback``, a connection other than the test's own);
- rows written during the test outside every worker schema: application code that built an
  engine of its own on the real database, ``public`` for instance.

Rows written outside are recognised by their ``xmin``, the transaction that inserted or last
updated them: a transaction that got its id after the test started writes rows whose ``xmin``
is at least the first id not yet handed out when the test started. Deleted rows leave nothing
to find and are not reported. Under xdist, a row written outside by a test that ran at the same
time on another worker is reported by both tests. Every table outside the worker schemas is
scanned after every test, so the check is meant for hunting leaks, not for every run. Schemas
of other workers and runs (known by pytest-uow's mark) are skipped, and so are tables the user
may not read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from pytest_uow.marks import ANY_MARK_PATTERN

# Counting stops here: a leak of more rows than this is reported as "at least".
_COUNT_LIMIT = 1000

_TABLES_QUERY = """
SELECT n.nspname, c.relname, n.nspname = :schema AS in_worker_schema
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND (n.nspname = :schema
       OR coalesce(obj_description(n.oid, 'pg_namespace'), '') NOT LIKE :any_mark)
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname <> :schema, n.nspname, c.relname
"""


@dataclass(frozen=True)
class Leak:
    """Rows of one table that a test left behind."""

    table: str
    rows: int
    in_worker_schema: bool

    def describe(self) -> str:
        rows = f"at least {self.rows}" if self.rows >= _COUNT_LIMIT else str(self.rows)
        return f"{self.table} ({rows} row{'s' if self.rows != 1 else ''})"


class LeakDetector:
    """Notes where the transaction ids stood when a test started, and finds its leaks after."""

    def __init__(self, engine: Engine, schema: str) -> None:
        self._engine = engine
        self._schema = schema
        self._connection: Connection | None = None
        self._first_new_xid: int | None = None

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def start(self) -> None:
        """Before the test: the first transaction id not yet handed out."""
        connection = self._connect()
        self._first_new_xid = int(
            connection.execute(
                text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            ).scalar_one()
        )
        connection.commit()

    def find(self) -> list[Leak]:
        """After the test's reset: the rows left in the worker schema, and the rows written
        outside the worker schemas since ``start``."""
        assert self._first_new_xid is not None, "start() was not called"
        # xmin is a 32-bit id; age() compares it with the start, wraparound included.
        first_new_xid = f"'{self._first_new_xid % 2**32}'::xid"
        connection = self._connect()
        preparer = self._engine.dialect.identifier_preparer
        tables = connection.execute(
            text(_TABLES_QUERY), {"schema": self._schema, "any_mark": ANY_MARK_PATTERN}
        ).all()
        counts: list[str] = []
        for schema, table, in_worker_schema in tables:
            name = f"{preparer.quote_schema(schema)}.{preparer.quote(table)}"
            written = "" if in_worker_schema else f" WHERE age(xmin) <= age({first_new_xid})"
            counts.append(
                f"SELECT {len(counts)}, count(*) FROM "
                f"(SELECT 1 FROM {name}{written} LIMIT {_COUNT_LIMIT}) leaked"
            )
        leaks = []
        if counts:
            rows = connection.exec_driver_sql(" UNION ALL ".join(counts)).all()
            found = {int(index): int(count) for index, count in rows}
            for index, (schema, table, in_worker_schema) in enumerate(tables):
                if found[index]:
                    leaks.append(Leak(f"{schema}.{table}", found[index], in_worker_schema))
        connection.commit()
        self._first_new_xid = None
        return leaks

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def leak_report(leaks: list[Leak], schema: str, strategy: str) -> str:
    """One line: what was left where, and the likely cause."""
    inside = [leak for leak in leaks if leak.in_worker_schema]
    outside = [leak for leak in leaks if not leak.in_worker_schema]
    parts = []
    if inside:
        parts.append(
            f"rows left in worker schema {schema} after the {strategy} reset: "
            + ", ".join(leak.describe() for leak in inside)
            + " (committed through a connection the strategy does not undo; they were removed)"
        )
    if outside:
        parts.append(
            "rows written outside the worker schemas while it ran: "
            + ", ".join(leak.describe() for leak in outside)
            + " (through an engine or connection that does not use the worker schema; "
            "use the uow fixtures or uow_sessionmakers)"
        )
    return "; ".join(parts)
