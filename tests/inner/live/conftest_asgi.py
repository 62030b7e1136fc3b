import pytest


@pytest.fixture(scope="session")
def uow_live_app():
    """Handed from a fixture instead of the uow_live_app setting."""
    from liveasgi import app

    return app
