"""Nothing lost: whatever runs do, crash or fail, the user's own schemas (``public``, another
schema, and one that merely looks like a worker schema) hold exactly what they held before,
definitions and rows alike, checked by a checksum of each."""

from __future__ import annotations

import hashlib
import os
import signal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import schemas_named, start_lingering_run

USER_DATA = """
CREATE TABLE public.batches (id serial PRIMARY KEY, reference text UNIQUE, qty int NOT NULL);
INSERT INTO public.batches (reference, qty) SELECT 'user-' || i, i FROM generate_series(1, 20) i;
CREATE VIEW public.big_batches AS SELECT * FROM public.batches WHERE qty > 10;
CREATE FUNCTION public.doubled(int) RETURNS int LANGUAGE sql AS 'SELECT $1 * 2';
COMMENT ON TABLE public.batches IS 'the user''s own batches, same name as the app''s table';
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (
    id bigserial PRIMARY KEY,
    batch_id int REFERENCES public.batches (id),
    amount numeric(10, 2)
);
INSERT INTO billing.invoices (batch_id, amount) SELECT i, i * 1.5 FROM generate_series(1, 20) i;
CREATE SCHEMA uow_0000aaaa_gw0;
COMMENT ON SCHEMA uow_0000aaaa_gw0 IS 'a user schema that happens to look like a worker schema';
CREATE TABLE uow_0000aaaa_gw0.batches (id int, reference text);
INSERT INTO uow_0000aaaa_gw0.batches VALUES (1, 'not ours');
"""
USER_SCHEMAS = ("public", "billing", "uow_0000aaaa_gw0")

# What checksums a schema: its definitions (one query each), then every table's rows.
_DEFINITIONS = {
    "columns": """
        SELECT table_name, column_name, data_type, column_default, is_nullable, ordinal_position
        FROM information_schema.columns WHERE table_schema = :schema ORDER BY 1, 6""",
    "constraints": """
        SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
        JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = :schema ORDER BY 1""",
    "relations": """
        SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema ORDER BY 1""",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = :schema ORDER BY 1",
    "functions": """
        SELECT pg_get_functiondef(p.oid) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :schema ORDER BY 1""",
    "sequences": """
        SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = :schema
        ORDER BY 1""",
    "comment": """
        SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :schema""",
}


def checksums(engine: Engine) -> dict[str, str]:
    """One checksum per user schema part: each kind of definition, and each table's rows."""
    sums = {}
    with engine.connect() as connection:
        for schema in USER_SCHEMAS:
            for kind, query in _DEFINITIONS.items():
                rows = connection.execute(text(query), {"schema": schema}).all()
                sums[f"{schema} {kind}"] = hashlib.md5(repr(rows).encode()).hexdigest()
            tables = connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY 1"),
                {"schema": schema},
            ).scalars()
            for table in list(tables):
                sums[f"{schema}.{table} rows"] = connection.execute(
                    text(
                        f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' "
                        f"ORDER BY t::text)), '') FROM {schema}.{table} t"
                    )
                ).scalar_one()
    return sums


def test_user_schemas_are_unchanged_by_runs_that_crash_fail_and_reap(
    project: pytest.Pytester, own_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with own_database.begin() as connection:
        connection.exec_driver_sql(USER_DATA)
    before = checksums(own_database)
    report_dir = project.mkdir("reports")
    monkeypatch.setenv("REPORT_DIR", str(report_dir))
    project.copy_example("nothing_lost/test_every_path.py")
    project.copy_example("reaping/test_linger.py")

    # 1. Every strategy, failing tests, a leftover lock, with the leak detector on.
    result = project.runpytest_subprocess("-p", "no:xdist", "--uow-check-leaks")
    result.assert_outcomes(passed=7, failed=2)
    assert checksums(own_database) == before

    # 2. Killed with kill -9, workers and all, in the middle of its tests.
    for report in report_dir.iterdir():
        report.unlink()
    killed = start_lingering_run(project, report_dir, ["-n", "2", "--uow-schema-prefix=uow"], 2)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert checksums(own_database) == before

    # 3. The next run reaps what the killed one left.
    result = project.runpytest_subprocess("-p", "no:xdist", "-k", "linger")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["uow: reaped 2 worker schema(s) left by runs that died: *"])
    assert checksums(own_database) == before

    # 4. A run whose tables fail to be created, half way through.
    project.copy_example("nothing_lost/broken.py")
    result = project.runpytest_subprocess(
        "-p", "no:xdist", "-k", "linger", "--uow-metadata=broken:metadata"
    )
    result.assert_outcomes(errors=2)
    assert checksums(own_database) == before

    # Everything pytest-uow created is gone; the look-alike schema is still there.
    assert schemas_named(own_database, "uow") == ["uow_0000aaaa_gw0"]
