import flask_app  # noqa: F401  (maps the model, as the app does when it starts)
import pytest


@pytest.fixture
def session_factory(uow_session_factory):
    return uow_session_factory


@pytest.fixture
def session(uow_session):
    return uow_session
