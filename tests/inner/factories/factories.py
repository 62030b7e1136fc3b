import factory
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory
from polyfactory.fields import Use
from shop import Customer, Session


# --8<-- [start:factories]
class CustomerFactory(factory.alchemy.SQLAlchemyModelFactory):
    """factory_boy, bound to the application's scoped_session, committing."""

    class Meta:
        model = Customer
        sqlalchemy_session = Session
        sqlalchemy_session_persistence = "commit"

    name = factory.declarations.Sequence(lambda n: f"customer {n}")


class FlushingCustomerFactory(factory.alchemy.SQLAlchemyModelFactory):
    """factory_boy, given a session by a fixture (the plugin's ``uow_session``), flushing."""

    class Meta:
        model = Customer
        sqlalchemy_session_persistence = "flush"

    name = factory.declarations.Sequence(lambda n: f"flushed {n}")


class PolyCustomerFactory(SQLAlchemyFactory[Customer]):
    """polyfactory, bound to the application's scoped_session, committing."""

    __session__ = Session
    __check_model__ = False
    id = Use(lambda: None)


# --8<-- [end:factories]
