"""Module-scoped data seen by a test with real commits (truncate), and by the rollback tests
after it; each test's own rows gone."""

import pytest
from sqlalchemy import text
from warehouse import Item, SessionLocal, User, count, emails


@pytest.fixture(scope="module")
def shop_user():
    with SessionLocal.begin() as session:
        session.add(User(id=500, email="shop@example.com"))
    return 500


@pytest.mark.uow(strategy="truncate")
def test_e1_truncate_sees_it_from_another_connection(shop_user, uow_engine):
    with uow_engine.connect() as connection:
        found = connection.execute(text("SELECT email FROM users")).scalars().all()
    assert found == ["shop@example.com"]
    with SessionLocal.begin() as session:
        session.add(Item(owner_id=shop_user, title="e1"))
    assert count(Item) == 1


def test_e2_rollback_sees_it_without_e1s_item(shop_user):
    assert emails() == ["shop@example.com"]
    assert count(Item) == 0
    with SessionLocal.begin() as session:
        session.add(Item(owner_id=shop_user, title="e2"))


@pytest.mark.uow(strategy="recreate")
def test_e3_recreate_sees_it(shop_user):
    assert emails() == ["shop@example.com"]
    assert count(Item) == 0


def test_e4_no_items(shop_user):
    assert emails() == ["shop@example.com"]
    assert count(Item) == 0
