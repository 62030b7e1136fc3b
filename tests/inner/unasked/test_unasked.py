"""Tests that ask nothing of the plugin: no fixture, no marker."""

from service import add_batch, batch_count


def test_0_lands_in_the_worker_namespace():
    # The user's database has no such table: the worker's namespace is made, and PGOPTIONS
    # (or PGDATABASE) exported, before the first test, though none asks for them.
    assert batch_count() == 0


def test_1_commits_through_an_engine_built_per_call():
    add_batch("b1")
    assert batch_count() == 1


def test_2_starts_from_the_baseline():
    assert batch_count() == 0


def test_3_uses_a_session_fixture_and_commits(uow_engine):
    with uow_engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO batches (reference, qty) VALUES ('b3', 1)")


def test_4_starts_from_the_baseline():
    assert batch_count() == 0
