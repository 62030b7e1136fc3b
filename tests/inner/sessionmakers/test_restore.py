import app
from sqlalchemy.engine import Connection


def test_bound_to_the_test_connection(uow_connection):
    assert app.DEFAULT_SESSION_FACTORY.kw["bind"] is uow_connection
    assert app.DEFAULT_SESSION_FACTORY.kw["expire_on_commit"] is False


def test_bound_even_without_plugin_fixtures():
    assert isinstance(app.DEFAULT_SESSION_FACTORY.kw["bind"], Connection)
