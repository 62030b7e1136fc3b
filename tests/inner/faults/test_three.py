import pytest


@pytest.mark.parametrize("n", range(3))
def test_needs_db(uow_session, n):
    pass


def test_needs_no_database():
    pass
