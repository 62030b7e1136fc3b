"""Unit tests of the truncate strategy's SQL: which tables are deleted from, in which order,
which are truncated, and which sequences restart. Pure logic, no database."""

from __future__ import annotations

from pytest_uow.namespace.cleaning import (
    LARGE_TABLE_BYTES,
    USED_SEQUENCE,
    Baseline,
    BaselineRows,
    Table,
    emptying_plan,
    emptying_sql,
)

SMALL = 8192
LARGE = LARGE_TABLE_BYTES + 1


def _tables(**references: tuple[int, ...]) -> dict[int, Table]:
    """Tables named t<oid> (e.g. t1=(2,) makes table 1 reference table 2)."""
    return {
        int(name[1:]): Table(int(name[1:]), f"s.{name}", frozenset(refs))
        for name, refs in references.items()
    }


def test_children_are_deleted_from_before_their_parents() -> None:
    # t3 (order lines) -> t2 (orders) -> t1 (customers)
    tables = _tables(t1=(), t2=(1,), t3=(2,))

    sql = emptying_sql(tables, {}, {1: SMALL, 2: SMALL, 3: SMALL})

    assert sql.split(";\n") == ["DELETE FROM s.t3", "DELETE FROM s.t2", "DELETE FROM s.t1"]


def test_only_the_dirty_tables_are_touched() -> None:
    tables = _tables(t1=(), t2=(1,), t3=())

    assert emptying_sql(tables, {}, {3: SMALL}) == "DELETE FROM s.t3"


def test_a_large_table_is_truncated_with_every_table_that_references_it() -> None:
    # t2 references t1, t3 references t2: truncating t1 must take t2 and t3 along, even clean.
    tables = _tables(t1=(), t2=(1,), t3=(2,), t4=())

    sql = emptying_sql(tables, {}, {1: LARGE, 4: SMALL})

    assert sql.split(";\n") == ["TRUNCATE s.t1, s.t2, s.t3", "DELETE FROM s.t4"]


def test_tables_that_reference_each_other_are_truncated_together() -> None:
    tables = _tables(t1=(2,), t2=(1,), t3=())

    sql = emptying_sql(tables, {}, {1: SMALL, 2: SMALL, 3: SMALL})

    assert sql == "TRUNCATE s.t1, s.t2, s.t3"


def test_used_sequences_restart_at_their_start_value() -> None:
    tables = _tables(t1=())

    sql = emptying_sql(tables, {10: 1, 11: 100}, {1: SMALL, 11: USED_SEQUENCE})

    assert sql.split(";\n") == [
        "DELETE FROM s.t1",
        "SELECT setval(11::oid::regclass, 100, false)",
    ]


def test_nothing_dirty_is_no_statement() -> None:
    assert emptying_sql(_tables(t1=()), {}, {}) == ""


def _baseline(*seeded: int, sequences: dict[int, int | None] | None = None) -> Baseline:
    return Baseline(
        {oid: BaselineRows(2, ("100",), f"uow_baseline_{oid}") for oid in seeded},
        sequences or {},
    )


def test_a_dirty_seeded_table_is_emptied_and_filled_again_from_its_copy() -> None:
    tables = {1: Table(1, "s.t1", frozenset(), "id, code")}

    plan = emptying_plan(tables, {}, {1: SMALL}, _baseline(1))

    assert plan.sql.split(";\n") == [
        "DELETE FROM s.t1",
        "INSERT INTO s.t1 (id, code) OVERRIDING SYSTEM VALUE SELECT id, code "
        "FROM pg_temp.uow_baseline_1",
    ]
    assert plan.refilled == {1}


def test_seeded_tables_referencing_a_dirty_one_are_emptied_first_and_filled_after() -> None:
    # t2 (cities, seeded) -> t1 (countries, seeded, dirty); t3 (clean, empty) is left alone.
    tables = {
        1: Table(1, "s.t1", frozenset(), "id"),
        2: Table(2, "s.t2", frozenset({1}), "id, t1_id"),
        3: Table(3, "s.t3", frozenset({1}), "id, t1_id"),
    }

    plan = emptying_plan(tables, {}, {1: SMALL}, _baseline(1, 2))

    assert plan.sql.split(";\n") == [
        "DELETE FROM s.t2",
        "DELETE FROM s.t1",
        "INSERT INTO s.t1 (id) OVERRIDING SYSTEM VALUE SELECT id FROM pg_temp.uow_baseline_1",
        "INSERT INTO s.t2 (id, t1_id) OVERRIDING SYSTEM VALUE SELECT id, t1_id "
        "FROM pg_temp.uow_baseline_2",
    ]
    assert plan.refilled == {1, 2}


def test_sequences_return_to_their_baseline_position() -> None:
    tables = _tables(t1=())
    baseline = _baseline(sequences={10: 2, 11: None})

    sql = emptying_sql(tables, {10: 1, 11: 1}, {10: USED_SEQUENCE, 11: USED_SEQUENCE}, baseline)

    assert sql == ("SELECT setval(10::oid::regclass, 2, true), setval(11::oid::regclass, 1, false)")
