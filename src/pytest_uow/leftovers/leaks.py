"""The leak detector (``--uow-check-leaks``): rows a test left where its reset cannot see them.

After each database test's reset it looks for two kinds of leak:

- rows still in the worker's namespace: something committed through a connection that the
  test's strategy does not undo (under ``rollback``, a connection other than the test's own);
- rows written during the test outside every worker namespace: application code that built an
  engine of its own on the real database, ``public`` for instance. In database mode that is the
  database ``uow_database_url`` names, scanned through a connection of its own.

Rows written outside are recognised by their ``xmin``, the transaction that inserted or last
updated them: a transaction that got its id after the test started writes rows whose ``xmin``
is at least the first id not yet handed out when the test started (transaction ids are the
server's, shared by all its databases). Deleted rows leave nothing to find and are not reported.
Under xdist, a row written outside by a test that ran at the same time on another worker is
reported by both tests. Every table outside the worker namespaces is scanned after every test,
so the check is meant for hunting leaks, not for every run. Schemas of other workers and runs
(known by pytest-uow's mark) are skipped, and so are tables the user may not read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from pytest_uow.marks import ANY_MARK_PATTERN
from pytest_uow.scope import Scope, user_schema

# Counting stops here: a leak of more rows than this is reported as "at least".
_COUNT_LIMIT = 1000

_TABLES_QUERY = """
SELECT n.nspname, c.relname, {inside} AS in_worker_namespace
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND {user_schema}
  AND ({inside} OR coalesce(obj_description(n.oid, 'pg_namespace'), '') NOT LIKE :any_mark)
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY 3 DESC, n.nspname, c.relname
"""


@dataclass(frozen=True)
class Leak:
    """Rows of one table that a test left behind."""

    table: str
    rows: int
    in_worker_namespace: bool

    def describe(self) -> str:
        rows = f"at least {self.rows}" if self.rows >= _COUNT_LIMIT else str(self.rows)
        return f"{self.table} ({rows} row{'s' if self.rows != 1 else ''})"


@dataclass(frozen=True)
class _Scan:
    """The tables one connection can see, and which of them are the worker's."""

    engine: Engine
    inside: str  # SQL on pg_namespace n: the worker's schemas ("false": none)
    params: dict[str, object]
    database: str  # prefixed to table names outside the worker's database; "" for none


class LeakDetector:
    """Notes where the transaction ids stood when a test started, and finds its leaks after.

    ``outside``, in database mode, is an engine on the database the server URL names: the
    worker database holds nothing but the worker's own tables.
    """

    def __init__(
        self,
        engine: Engine,
        scope: Scope,
        outside: Engine | None = None,
        baseline: Callable[[], Mapping[str, tuple[int, tuple[str, ...]]]] = dict,
    ) -> None:
        """``baseline`` gives, per worker table holding baseline rows (by quoted qualified
        name), how many and the transactions that wrote them: those rows are not leaks, but
        rows written since and baseline rows gone are."""
        self._baseline = baseline
        self._scans = [_Scan(engine, scope.condition(), scope.params, "")]
        if outside is not None:
            self._scans.append(_Scan(outside, "false", {}, f"{outside.url.database}."))
        self._connections: dict[int, Connection] = {}
        self._first_new_xid: int | None = None

    def _connect(self, index: int) -> Connection:
        if index not in self._connections:
            self._connections[index] = self._scans[index].engine.connect()
        return self._connections[index]

    def start(self) -> None:
        """Before the test: the first transaction id not yet handed out."""
        connection = self._connect(0)
        self._first_new_xid = int(
            connection.execute(
                text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            ).scalar_one()
        )
        connection.commit()

    def find(self) -> list[Leak]:
        """After the test's reset: the rows left in the worker's namespace, and the rows
        written outside the worker namespaces since ``start``."""
        assert self._first_new_xid is not None, "start() was not called"
        # xmin is a 32-bit id; age() compares it with the start, wraparound included.
        first_new_xid = f"'{self._first_new_xid % 2**32}'::xid"
        leaks = [
            leak for index in range(len(self._scans)) for leak in self._find(index, first_new_xid)
        ]
        self._first_new_xid = None
        return leaks

    def _find(self, index: int, first_new_xid: str) -> list[Leak]:
        scan = self._scans[index]
        connection = self._connect(index)
        preparer = scan.engine.dialect.identifier_preparer
        query = _TABLES_QUERY.format(inside=scan.inside, user_schema=user_schema())
        params = {**scan.params, "any_mark": ANY_MARK_PATTERN}
        tables = connection.execute(text(query), params).all()
        baseline = self._baseline() if index == 0 else {}
        counts: list[str] = []
        for schema, table, inside in tables:
            name = f"{preparer.quote_schema(schema)}.{preparer.quote(table)}"
            if inside and name in baseline:
                count, xmins = baseline[name]
                listed = ", ".join(f"'{xmin}'" for xmin in xmins)
                counts.append(
                    f"SELECT {len(counts)}, "
                    f"(SELECT count(*) FROM {name} WHERE xmin::text NOT IN ({listed})) "
                    f"+ greatest(0, {count} - "
                    f"(SELECT count(*) FROM {name} WHERE xmin::text IN ({listed})))"
                )
                continue
            written = "" if inside else f" WHERE age(xmin) <= age({first_new_xid})"
            counts.append(
                f"SELECT {len(counts)}, count(*) FROM "
                f"(SELECT 1 FROM {name}{written} LIMIT {_COUNT_LIMIT}) leaked"
            )
        leaks = []
        if counts:
            rows = connection.exec_driver_sql(" UNION ALL ".join(counts)).all()
            found = {int(index): int(count) for index, count in rows}
            for position, (schema, table, inside) in enumerate(tables):
                if found[position]:
                    where = "" if inside else scan.database
                    leaks.append(Leak(f"{where}{schema}.{table}", found[position], bool(inside)))
        connection.commit()
        return leaks

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


def leak_report(leaks: list[Leak], namespace: str, strategy: str | None) -> str:
    """One line: what was left where, and the likely cause; ``namespace`` names the worker's
    ("worker schema uow_1a2b_gw0"); ``strategy`` is the test's, None for a test with no
    isolation of its own."""
    inside = [leak for leak in leaks if leak.in_worker_namespace]
    outside = [leak for leak in leaks if not leak.in_worker_namespace]
    parts = []
    if inside:
        if strategy is None:
            when, cause = "by the test", "committed through a connection of its own"
        else:
            when = f"after the {strategy} reset"
            cause = "committed through a connection the strategy does not undo"
        parts.append(
            f"rows left in {namespace} {when}: "
            + ", ".join(leak.describe() for leak in inside)
            + f" ({cause}; they were removed)"
        )
    if outside:
        parts.append(
            "rows written outside the worker namespaces while it ran: "
            + ", ".join(leak.describe() for leak in outside)
            + " (through an engine or connection that does not use the worker's namespace; "
            "use the uow fixtures or uow_sessionmakers)"
        )
    return "; ".join(parts)
