"""Extensions a worker schema sees, without ``public`` on its ``search_path``.

An extension lives once per database, in one schema. A worker schema's ``search_path`` names only
the worker schema and ``pytest_uow_extensions``, so that the application's unqualified table names
never resolve outside it; two cases then need help when the build names an extension
(``CREATE EXTENSION [IF NOT EXISTS] name``, from a migration, a DDL event or a replay):

- it is already installed elsewhere (``public`` of a migrated developer database): its functions,
  aggregates, operators, types and named operator classes get bridges in the worker schema, SQL
  functions and domains that reach the originals, dropped with the schema;
- it is not installed yet: the build installs it in the worker schema, and it is moved to
  ``pytest_uow_extensions`` before the build commits, where every worker sees it. An advisory lock
  makes concurrent builds take turns on it; the last run to leave drops what it moved there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError

from pytest_uow.errors import UowError
from pytest_uow.marks import OWNED_PATTERN

EXTENSIONS_SCHEMA = "pytest_uow_extensions"
_EXTENSIONS_MARK = "pytest-uow extensions: moved here from worker schemas, dropped by the last run"
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('pytest-uow extensions', 0))"
_NAMED = re.compile(
    r'\bCREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$-]*)',
    re.IGNORECASE,
)
# A downgrade's DROP EXTENSION, on its own: the extension is not the worker schema's to drop
# (another worker's, or the user's in ``public``), so it stays.
_DROPPED = re.compile(r"\s*DROP\s+EXTENSION\b[^;]*;?\s*\Z", re.IGNORECASE)
_KEPT_INSTEAD = "SELECT 'pytest-uow: the extension stays, shared by every worker schema'"

# Where an extension lives, if it is installed and not on the worker's search_path.
_OFF_PATH = """
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = %s AND NOT n.nspname = ANY (current_schemas(true))
"""

# The bridges' DDL, one row per statement, in the order they are created. Type and function
# names print qualified where they are not visible, so a bridge always names its original.
# Pseudo-types a SQL function cannot take or return mark what only the server calls
# (input/output and index support functions): those are not bridged.
_BRIDGES = r"""
WITH members AS (
  SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
  WHERE d.deptype = 'e' AND e.extname = %(extension)s
),
unservable(oid) AS (
  SELECT oid FROM pg_type WHERE typname IN (
    'internal', 'cstring', 'trigger', 'event_trigger', 'language_handler', 'fdw_handler',
    'index_am_handler', 'tsm_handler', 'table_am_handler')
  AND typnamespace = 'pg_catalog'::regnamespace
),
functions AS (
  SELECT p.* FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
),
operators AS (
  SELECT o.* FROM pg_operator o
  JOIN members m ON m.classid = 'pg_operator'::regclass AND m.objid = o.oid
)
SELECT 1, format('CREATE DOMAIN %%I.%%I AS %%s', current_schema(), t.typname, t.oid::regtype)
FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
WHERE t.typtype IN ('b', 'e', 'd', 'r', 'm')
UNION ALL
SELECT 2, format(
  'CREATE FUNCTION %%I.%%I(%%s) RETURNS %%s LANGUAGE sql %%s %%s PARALLEL %%s AS %%L',
  current_schema(), f.proname, pg_get_function_arguments(f.oid), pg_get_function_result(f.oid),
  CASE f.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END,
  CASE WHEN f.proisstrict THEN 'STRICT' ELSE 'CALLED ON NULL INPUT' END,
  CASE f.proparallel WHEN 's' THEN 'SAFE' WHEN 'r' THEN 'RESTRICTED' ELSE 'UNSAFE' END,
  format(
    CASE WHEN f.proretset OR f.proallargtypes IS NOT NULL THEN 'SELECT * FROM %%I.%%I(%%s)'
         ELSE 'SELECT %%I.%%I(%%s)' END,
    f.pronamespace::regnamespace::text, f.proname,
    (SELECT coalesce(string_agg(
       CASE WHEN i = f.pronargs AND f.provariadic <> 0 THEN 'VARIADIC $' ELSE '$' END || i,
       ', ' ORDER BY i), '')
     FROM generate_series(1, f.pronargs) AS i)))
FROM functions f
WHERE f.prokind = 'f'
  AND NOT f.prorettype IN (SELECT oid FROM unservable)
  AND NOT (f.proargtypes::oid[] && ARRAY(SELECT oid FROM unservable))
  AND NOT (f.prorettype = 'record'::regtype AND f.proallargtypes IS NULL)
UNION ALL
SELECT 3, format(
  'CREATE OPERATOR %%I.%%s (FUNCTION = %%s%%s, RIGHTARG = %%s%%s%%s%%s%%s)',
  current_schema(), o.oprname, o.oprcode::regproc,
  CASE WHEN o.oprleft <> 0 THEN ', LEFTARG = ' || o.oprleft::regtype END,
  o.oprright::regtype,
  CASE WHEN o.oprcom <> 0 THEN format(', COMMUTATOR = OPERATOR(%%s)', (
    SELECT CASE WHEN c.oid IN (SELECT oid FROM operators)
                THEN quote_ident(current_schema()) ELSE c.oprnamespace::regnamespace::text END
           || '.' || c.oprname FROM pg_operator c WHERE c.oid = o.oprcom)) END,
  CASE WHEN o.oprnegate <> 0 THEN format(', NEGATOR = OPERATOR(%%s)', (
    SELECT CASE WHEN c.oid IN (SELECT oid FROM operators)
                THEN quote_ident(current_schema()) ELSE c.oprnamespace::regnamespace::text END
           || '.' || c.oprname FROM pg_operator c WHERE c.oid = o.oprnegate)) END,
  CASE WHEN o.oprrest <> 0 THEN ', RESTRICT = ' || o.oprrest::regproc END,
  CASE WHEN o.oprjoin <> 0 THEN ', JOIN = ' || o.oprjoin::regproc END)
FROM operators o
UNION ALL
SELECT 4, format(
  'CREATE AGGREGATE %%I.%%I(%%s) (SFUNC = %%s, STYPE = %%s%%s%%s%%s%%s)',
  current_schema(), f.proname, pg_get_function_identity_arguments(f.oid), a.aggtransfn::regproc,
  format_type(a.aggtranstype, NULL),
  CASE WHEN a.aggfinalfn <> 0 THEN ', FINALFUNC = ' || a.aggfinalfn::regproc END,
  CASE WHEN a.aggcombinefn <> 0 THEN ', COMBINEFUNC = ' || a.aggcombinefn::regproc END,
  CASE WHEN a.agginitval IS NOT NULL THEN ', INITCOND = ' || quote_literal(a.agginitval) END,
  CASE WHEN a.aggsortop <> 0 THEN format(', SORTOP = OPERATOR(%%s.%%s)',
    s.oprnamespace::regnamespace::text, s.oprname) END)
FROM functions f JOIN pg_aggregate a ON a.aggfnoid = f.oid
LEFT JOIN pg_operator s ON s.oid = a.aggsortop
WHERE f.prokind = 'a' AND a.aggkind = 'n' AND a.aggmtransfn = 0
UNION ALL
SELECT 5, format('CREATE OPERATOR CLASS %%I.%%I FOR TYPE %%s USING %%I AS %%s%%s',
  current_schema(), c.opcname, c.opcintype::regtype, am.amname,
  (SELECT string_agg(item, ', ' ORDER BY kind, number) FROM (
     SELECT 1 AS kind, ao.amopstrategy AS number, format('OPERATOR %%s %%s.%%s (%%s, %%s)%%s',
       ao.amopstrategy,
       CASE WHEN op.oid IN (SELECT oid FROM operators)
            THEN quote_ident(current_schema()) ELSE op.oprnamespace::regnamespace::text END,
       op.oprname, ao.amoplefttype::regtype, ao.amoprighttype::regtype,
       CASE WHEN ao.amoppurpose = 'o' THEN format(' FOR ORDER BY %%s.%%I',
         sf.opfnamespace::regnamespace::text, sf.opfname) ELSE '' END) AS item
     FROM pg_amop ao JOIN pg_operator op ON op.oid = ao.amopopr
     LEFT JOIN pg_opfamily sf ON sf.oid = ao.amopsortfamily
     WHERE ao.amopfamily = c.opcfamily
     UNION ALL
     SELECT 2, ap.amprocnum, format('FUNCTION %%s %%s', ap.amprocnum, ap.amproc::regprocedure)
     FROM pg_amproc ap WHERE ap.amprocfamily = c.opcfamily) AS items),
  CASE WHEN c.opckeytype <> 0 THEN ', STORAGE ' || c.opckeytype::regtype END)
FROM pg_opclass c JOIN members m ON m.classid = 'pg_opclass'::regclass AND m.objid = c.oid
JOIN pg_am am ON am.oid = c.opcmethod
WHERE NOT c.opcdefault AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
ORDER BY 1
"""

_CREATED_HERE = """
SELECT extname, extrelocatable FROM pg_extension
WHERE extnamespace = current_schema()::regnamespace ORDER BY extname
"""
_OTHER_WORKER_SCHEMAS = """
SELECT count(*) FROM pg_namespace
WHERE obj_description(oid, 'pg_namespace') LIKE :owned AND nspname <> :schema
"""


class ExtensionError(UowError):
    """An extension the build named cannot be seen from the worker schema; one line."""


class ExtensionBridges:
    """The extensions one worker schema's builds named, and the bridges made for them.

    The bridges' DDL is kept, so that a rebuild (``recreate``, or a reset that finds the
    schema's tables dropped) creates them again right after the schema, before the build's own
    ``CREATE EXTENSION`` statements run again.
    """

    def __init__(self) -> None:
        self._sql = ""
        self._named: set[str] = set()

    def script(self, dialect: Dialect) -> str:
        """The bridges made so far, as a script for ``exec_driver_sql`` on ``dialect`` (whose
        driver reads ``%`` as a placeholder: operator names have it)."""
        if dialect.paramstyle in ("format", "pyformat"):
            return self._sql.replace("%", "%%")
        return self._sql

    @contextmanager
    def watching(self, connection: Connection) -> Iterator[None]:
        """While the build runs on ``connection`` (or an engine ``env.py`` built was lent its
        DBAPI connection), every ``CREATE EXTENSION`` it sends is seen first; before it
        commits, extensions it installed in the worker schema move out of it."""
        dbapi = connection.connection.dbapi_connection

        def seen(
            conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any
        ) -> tuple[str, Any]:
            if conn.connection.dbapi_connection is not dbapi:
                return statement, parameters
            if _DROPPED.match(statement):
                return _KEPT_INSTEAD, parameters
            self._before(dbapi, statement)
            return statement, parameters

        event.listen(Engine, "before_cursor_execute", seen, retval=True)
        try:
            yield
            _move_out(dbapi)
        finally:
            event.remove(Engine, "before_cursor_execute", seen)

    def _before(self, dbapi: Any, statement: str) -> None:
        """Bridge each extension ``statement`` names that lives off the path; take the lock
        first, so that a build installing one goes alone."""
        names = [_unquoted(name) for name in _NAMED.findall(statement)]
        for name in (name for name in names if name not in self._named):
            self._named.add(name)
            _run(dbapi, _LOCK)
            if _rows(dbapi, _OFF_PATH, (name,)):
                self._bridge(dbapi, name)

    def _bridge(self, dbapi: Any, extension: str) -> None:
        statements = [ddl for _, ddl in _rows(dbapi, _BRIDGES, {"extension": extension})]
        script = "".join(f"{ddl};\n" for ddl in statements)
        try:
            _run(dbapi, f"SAVEPOINT uow_bridges;\n{script}RELEASE SAVEPOINT uow_bridges")
        except Exception as error:  # the driver's own error class
            _run(dbapi, "ROLLBACK TO SAVEPOINT uow_bridges")
            raise ExtensionError(
                f"extension {extension} is installed outside the worker schema, and its objects "
                f"could not be made visible in it ({_first_line(error)}): set "
                "UOW_ISOLATION=database"
            ) from error
        self._sql += script


def search_path(schema: str) -> str:
    """A worker schema's ``search_path``: the schema, then the extensions moved out of it."""
    return f"{schema},{EXTENSIONS_SCHEMA}"


def drop_if_last(connection: Connection, schema: str) -> None:
    """After worker schema ``schema`` is dropped: the extensions moved out of worker schemas,
    and their schema, go with the last worker schema of any run. Whatever still depends on them
    (a kept schema's column default) keeps them, for the next run to try again."""
    with connection.begin() as transaction:
        connection.exec_driver_sql(_LOCK)
        if not connection.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": EXTENSIONS_SCHEMA}
        ).first():
            return
        others = connection.execute(
            text(_OTHER_WORKER_SCHEMAS), {"owned": OWNED_PATTERN, "schema": schema}
        ).scalar_one()
        if others:
            return
        moved = connection.execute(
            text(
                "SELECT extname FROM pg_extension "
                "WHERE extnamespace = CAST(:name AS regnamespace) ORDER BY extname"
            ),
            {"name": EXTENSIONS_SCHEMA},
        ).scalars()
        preparer = connection.dialect.identifier_preparer
        try:
            for extension in moved.all():
                connection.exec_driver_sql(f"DROP EXTENSION {preparer.quote(extension)}")
            connection.exec_driver_sql(f"DROP SCHEMA {preparer.quote(EXTENSIONS_SCHEMA)}")
        except DBAPIError:
            transaction.rollback()


def _move_out(dbapi: Any) -> None:
    """Extensions the build installed in the worker schema, moved where every worker (and the
    next build of this one) sees them; one that cannot move is refused in one line."""
    created = _rows(dbapi, _CREATED_HERE, None)
    if not created:
        return
    _run(dbapi, _LOCK)
    _run(
        dbapi,
        f"CREATE SCHEMA IF NOT EXISTS {EXTENSIONS_SCHEMA};\n"
        f"COMMENT ON SCHEMA {EXTENSIONS_SCHEMA} IS '{_EXTENSIONS_MARK}'",
    )
    for extension, relocatable in created:
        if not relocatable:
            raise ExtensionError(
                f"extension {extension} was installed in the worker schema and cannot be moved "
                f"out of it, where other workers would see it: install it WITH SCHEMA a schema "
                "of its own, or set UOW_ISOLATION=database"
            )
        _run(
            dbapi,
            f"ALTER EXTENSION {_quoted(extension)} SET SCHEMA {EXTENSIONS_SCHEMA}",
        )


def _rows(dbapi: Any, sql: str, params: Any) -> list[Any]:
    """A catalog query on the build's own DBAPI connection, beside SQLAlchemy: what the build
    sends is watched (and captured for a replay), and this is not the build's."""
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _run(dbapi: Any, sql: str) -> None:
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def _unquoted(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
