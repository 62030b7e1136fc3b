"""Tests without wider-scoped data see none."""

from warehouse import Category, Item, User, count


def test_f1_empty():
    assert count(User) == 0
    assert count(Item) == 0


def test_f2_empty_with_categories(categories):
    assert count(User) == 0
    assert count(Category) == categories
