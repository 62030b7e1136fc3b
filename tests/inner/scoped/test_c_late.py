"""A session-scoped fixture first set up while a module-scoped one is open: set up above it,
it is finalized with it and set up again when a later test needs it."""

import pytest
from warehouse import SessionLocal, User, emails, notes


@pytest.fixture(scope="module")
def module_user():
    with SessionLocal.begin() as session:
        session.add(User(email="module@example.com"))
    return "module@example.com"


def test_c1(module_user):
    assert emails() == ["module@example.com"]


def test_c2(module_user, late_note):
    assert emails() == ["module@example.com"]
    assert notes() == ["late"]
