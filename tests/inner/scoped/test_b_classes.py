"""Class-scoped data through a routed engine's own transaction; none of module a's rows."""

import pytest
from sqlalchemy import insert
from warehouse import Item, User, count, emails, engine


@pytest.fixture(scope="class")
def warehouse_owner():
    with engine.begin() as connection:
        connection.execute(insert(User).values(id=100, email="owner@example.com"))
        connection.execute(insert(Item).values(owner_id=100, title="shelf"))
    return 100


class TestWarehouse:
    def test_b1_sees_the_class_rows(self, warehouse_owner):
        assert emails() == ["owner@example.com"]
        assert count(Item) == 1

    def test_b2_sees_them_too_and_deletes_one(self, warehouse_owner):
        with engine.begin() as connection:
            connection.execute(Item.__table__.delete())
        assert count(Item) == 0

    def test_b3_the_delete_was_undone(self, warehouse_owner):
        assert count(Item) == 1


def test_b4_outside_the_class_nothing():
    assert count(User) == 0
    assert count(Item) == 0
