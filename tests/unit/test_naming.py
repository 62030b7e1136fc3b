"""The application names that tie a worker's connections to the test that opened them."""

from __future__ import annotations

from pytest_uow.current import CURRENT
from pytest_uow.leftovers.naming import ConnectionNames, application_name, is_ours, named_test

BASE = "pytest-uow 1a2b3c4d gw1"


def test_a_connection_outside_any_test_has_the_worker_name() -> None:
    assert application_name(BASE, None) == BASE


def test_the_test_follows_the_worker_name() -> None:
    assert application_name(BASE, "t.py::test_a") == f"{BASE} t.py::test_a"


def test_a_long_node_id_keeps_its_end_within_what_postgresql_keeps() -> None:
    name = application_name(BASE, "tests/e2e/test_allocation.py::test_concurrent_updates[2-3]")

    assert len(name.encode()) == 63
    assert name == f"{BASE} ...ion.py::test_concurrent_updates[2-3]"


def test_characters_postgresql_would_not_keep_or_that_end_a_literal_become_question_marks() -> None:
    name = application_name(BASE, "t.py::test_a[é-'x'-\\]")

    assert name == f"{BASE} t.py::test_a[?-?x?-?]"


def test_names_with_or_without_a_test_are_the_workers_and_only_its() -> None:
    assert is_ours(BASE, BASE)
    assert is_ours(f"{BASE} t.py::test_a", BASE)
    assert not is_ours("pytest-uow 1a2b3c4d gw10", BASE)
    assert not is_ours("pytest-uow 1a2b3c4d gw10 t.py::test_a", BASE)
    assert not is_ours("someone-else", BASE)


def test_the_test_is_read_back_from_the_name() -> None:
    assert named_test(f"{BASE} t.py::test_a", BASE) == "t.py::test_a"
    assert named_test(BASE, BASE) is None
    assert named_test("pytest-uow 1a2b3c4d gw10 t.py::test_a", BASE) is None


def test_a_clipped_name_is_read_back_as_the_whole_node_id() -> None:
    names = ConnectionNames(BASE)
    test = "tests/e2e/test_allocation.py::test_concurrent_updates[2-3]"
    CURRENT.start(test)
    clipped = names.current
    CURRENT.clear()

    assert names.current == BASE
    assert names.test_of(1234, clipped) == test
    assert names.test_of(1234, f"{BASE} t.py::test_other") == "t.py::test_other"
    assert names.test_of(1234, BASE) is None
