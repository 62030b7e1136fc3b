"""The savepoint stack of the kept connection (``savepoints.SavepointStack``): PostgreSQL's
rule that a release or a rollback takes every later savepoint with it, and the plugin's marks
that no session's savepoint may take."""

from __future__ import annotations

from pytest_uow.savepoints import SavepointStack


def test_a_release_goes_to_the_server_and_takes_what_came_after() -> None:
    stack = SavepointStack()
    stack.opened("a")
    stack.opened("b")

    assert stack.release("a") is True
    assert stack.names == []


def test_a_savepoint_below_a_mark_is_kept_aside_not_released() -> None:
    stack = SavepointStack()
    stack.opened("uow_scope_1", mark=True)
    stack.opened("sa_savepoint_1")  # a session read after its commit
    stack.detach_above("uow_scope_1")
    stack.opened("uow_test", mark=True)

    assert stack.release("sa_savepoint_1") is False  # would take uow_test with it
    assert stack.names == ["uow_scope_1", "sa_savepoint_1", "uow_test"]
    # A rollback to it returns to the test's savepoint instead.
    assert stack.rollback_target("sa_savepoint_1") == "uow_test"


def test_a_savepoint_opened_before_a_later_mark_is_not_released_either() -> None:
    stack = SavepointStack()
    stack.opened("sa_savepoint_1")
    stack.opened("uow_test", mark=True)

    assert stack.release("sa_savepoint_1") is False
    assert stack.names == ["sa_savepoint_1", "uow_test"]


def test_a_savepoint_gone_with_an_outer_one_is_released_as_nothing() -> None:
    stack = SavepointStack()
    stack.opened("uow_test", mark=True)
    stack.opened("sa_savepoint_2")
    stack.rolled_back_to("uow_test")

    assert stack.release("sa_savepoint_2") is False
    assert stack.rollback_target("sa_savepoint_2") == "uow_test"


def test_without_marks_a_rollback_to_a_missing_savepoint_is_left_to_the_server() -> None:
    stack = SavepointStack()
    stack.opened("a")

    assert stack.rollback_target("gone") is None
    assert stack.rollback_target("a") == "a"
    assert stack.names == ["a"]  # a rollback to a savepoint keeps it, as on the server


def test_a_session_savepoint_above_the_innermost_mark_behaves_as_on_the_server() -> None:
    stack = SavepointStack()
    stack.opened("uow_test", mark=True)
    stack.opened("sa_savepoint_3")
    stack.opened("sa_savepoint_4")

    assert stack.rollback_target("sa_savepoint_3") == "sa_savepoint_3"
    assert stack.names == ["uow_test", "sa_savepoint_3"]
    assert stack.release("sa_savepoint_3") is True
    assert stack.names == ["uow_test"]
