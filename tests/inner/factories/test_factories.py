"""Factories of factory_boy and polyfactory, bound to the application's re-bound
``scoped_session`` or to the plugin's ``uow_session``: what they commit or flush is the test's,
and gone after it."""

import pytest
from factories import CustomerFactory, FlushingCustomerFactory, PolyCustomerFactory
from shop import customer_count


@pytest.fixture
def flushing_factory(uow_session):
    FlushingCustomerFactory._meta.sqlalchemy_session = uow_session
    yield FlushingCustomerFactory
    FlushingCustomerFactory._meta.sqlalchemy_session = None


def test_1_factory_boy_commits_two(uow_session):
    CustomerFactory.create_batch(2)
    assert customer_count() == 2


def test_2_polyfactory_commits_one():
    PolyCustomerFactory.create_sync(name="poly")
    assert customer_count() == 1


def test_3_a_factory_on_the_plugins_session_flushes(flushing_factory):
    flushing_factory.create()
    # Flushed, not committed: the application's sessions share the test's transaction.
    assert customer_count() == 1


def test_4_starts_empty():
    assert customer_count() == 0
