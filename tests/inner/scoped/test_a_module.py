"""A module-scoped user with items, written through the application's scoped_session; the
session reads after its last commit, so it is left inside a savepoint (the trap)."""

import pytest
from sqlalchemy import select
from warehouse import Category, Item, Session, User, count, emails


# --8<-- [start:user]
@pytest.fixture(scope="module")
def user():
    user = User(email="a@example.com")
    Session.add(user)
    Session.commit()
    Session.refresh(user)  # reads after the commit: the scoped session stays in a savepoint
    yield user
    Session.remove()  # as the application does at the end of a request


def test_a1_sees_the_module_user_and_writes_its_own(user):
    assert emails() == ["a@example.com"]
    Session.add(Item(owner_id=user.id, title="a1"))
    Session.commit()
    assert count(Item) == 1


def test_a2_sees_the_user_not_a1s_item(user):
    assert emails() == ["a@example.com"]
    assert count(Item) == 0
    Session.add(Item(owner_id=user.id, title="a2"))
    Session.commit()
    assert Session.scalars(select(Item.title)).all() == ["a2"]


# --8<-- [end:user]


def test_a3_the_scoped_session_still_works(user):
    Session.add(User(email="a3@example.com"))
    Session.commit()
    assert emails() == ["a3@example.com", "a@example.com"]


def test_a4_with_the_session_scoped_rows(user, categories):
    assert count(Category) == categories
    assert emails() == ["a@example.com"]
