import pytest


@pytest.mark.uow(strategy="fast")
def test_unknown_strategy():
    pass


@pytest.mark.uow(stratgy="truncate")
def test_unknown_keyword():
    pass
