"""The Unit of Work and the repository on PostgreSQL, through the plugin's session factory."""

import threading
import time

import pytest
from allocation.adapters import orm, repository
from allocation.domain import model
from allocation.service_layer import services, unit_of_work
from sqlalchemy import text

orm.start_mappers()


def insert_batch(session, ref, sku, qty, eta=None, version=1):
    session.execute(
        text("INSERT INTO products (sku, version_number) VALUES (:sku, :v)"),
        {"sku": sku, "v": version},
    )
    session.execute(
        text(
            "INSERT INTO batches (reference, sku, _purchased_quantity, eta) "
            "VALUES (:ref, :sku, :qty, :eta)"
        ),
        {"ref": ref, "sku": sku, "qty": qty, "eta": eta},
    )


def get_allocated_batch_ref(session, orderid, sku):
    return session.execute(
        text(
            "SELECT b.reference FROM allocations JOIN order_lines ol ON ol.id = orderline_id "
            "JOIN batches b ON b.id = batch_id WHERE ol.orderid = :orderid AND ol.sku = :sku"
        ),
        {"orderid": orderid, "sku": sku},
    ).scalar_one()


def test_repository_saves_and_loads_a_product(uow_session):
    repo = repository.SqlAlchemyRepository(uow_session)
    repo.add(model.Product("GENERIC-SOFA", [model.Batch("batch1", "GENERIC-SOFA", 100, None)]))
    uow_session.commit()

    [product_sku] = uow_session.execute(
        text("SELECT sku FROM products WHERE sku NOT LIKE 'CATALOGUE-%'")
    ).scalars()
    assert product_sku == "GENERIC-SOFA"
    assert repo.get("GENERIC-SOFA").batches[0].reference == "batch1"


# --8<-- [start:uow]
def test_uow_can_retrieve_a_batch_and_allocate_to_it(uow_session_factory):
    session = uow_session_factory()
    insert_batch(session, "batch1", "HIPSTER-WORKBENCH", 100)
    session.commit()

    uow = unit_of_work.SqlAlchemyUnitOfWork(uow_session_factory)
    with uow:
        product = uow.products.get("HIPSTER-WORKBENCH")
        product.allocate(model.OrderLine("o1", "HIPSTER-WORKBENCH", 10))
        uow.commit()

    assert get_allocated_batch_ref(session, "o1", "HIPSTER-WORKBENCH") == "batch1"
    # --8<-- [end:uow]


def test_rolls_back_uncommitted_work_by_default(uow_session_factory):
    uow = unit_of_work.SqlAlchemyUnitOfWork(uow_session_factory)
    with uow:
        insert_batch(uow.session, "batch1", "MEDIUM-PLINTH", 100)

    assert list(uow_session_factory().execute(text("SELECT * FROM batches"))) == []


def test_rolls_back_on_error(uow_session_factory):
    class MyException(Exception):
        pass

    def add_batch_then_fail():
        with unit_of_work.SqlAlchemyUnitOfWork(uow_session_factory) as uow:
            insert_batch(uow.session, "batch1", "LARGE-FORK", 100)
            raise MyException()

    with pytest.raises(MyException):
        add_batch_then_fail()

    assert list(uow_session_factory().execute(text("SELECT * FROM batches"))) == []


def test_commit_persists_within_the_test(uow_session_factory):
    services.add_batch(
        "batch1", "SMALL-TABLE", 20, None, unit_of_work.SqlAlchemyUnitOfWork(uow_session_factory)
    )

    with unit_of_work.SqlAlchemyUnitOfWork(uow_session_factory) as uow:
        assert uow.products.get("SMALL-TABLE").batches[0].available_quantity == 20


def try_to_allocate(orderid, sku, exceptions):
    line = model.OrderLine(orderid, sku, 10)
    try:
        with unit_of_work.SqlAlchemyUnitOfWork() as uow:  # the app's own default factory
            product = uow.products.get(sku)
            product.allocate(line)
            time.sleep(0.2)
            uow.commit()
    except Exception as error:
        exceptions.append(error)


# --8<-- [start:truncate]
@pytest.mark.uow(strategy="truncate")
def test_concurrent_updates_to_version_are_not_allowed(uow_session_factory):
    session = uow_session_factory()
    insert_batch(session, "batch1", "MODERN-TABLE", 100, version=1)
    session.commit()
    exceptions = []
    threads = [
        threading.Thread(target=try_to_allocate, args=(order, "MODERN-TABLE", exceptions))
        for order in ("order1", "order2")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [version] = session.execute(
        text("SELECT version_number FROM products WHERE sku = 'MODERN-TABLE'")
    ).one()
    assert version == 2
    [exception] = exceptions
    assert "could not serialize access due to concurrent update" in str(exception)
    orders = session.execute(
        text(
            "SELECT orderid FROM allocations JOIN batches ON allocations.batch_id = batches.id "
            "JOIN order_lines ON allocations.orderline_id = order_lines.id "
            "WHERE order_lines.sku = 'MODERN-TABLE'"
        )
    ).all()
    assert len(orders) == 1
    # --8<-- [end:truncate]


@pytest.mark.uow(strategy="truncate")
@pytest.mark.parametrize("attempt", range(2))
def test_every_test_starts_with_the_catalogue(uow_session_factory, attempt):
    """The reference data (uow_seed) is there in every test, whatever the one before did with
    it: here the tests commit for real, and the reset puts the catalogue back."""
    session = uow_session_factory()
    assert session.execute(text("SELECT sku FROM products ORDER BY sku")).scalars().all() == [
        "CATALOGUE-CHAIR",
        "CATALOGUE-LAMP",
    ]

    services.add_batch(
        "lamps", "CATALOGUE-LAMP", 10, None, unit_of_work.SqlAlchemyUnitOfWork(uow_session_factory)
    )
    session.execute(text("DELETE FROM products WHERE sku = 'CATALOGUE-CHAIR'"))
    session.commit()

    with unit_of_work.SqlAlchemyUnitOfWork(uow_session_factory) as uow:
        assert [batch.reference for batch in uow.products.get("CATALOGUE-LAMP").batches] == [
            "lamps"
        ]
        assert uow.products.get("CATALOGUE-CHAIR") is None
