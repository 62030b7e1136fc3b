import pytest
from warehouse import Category, Note, SessionLocal


@pytest.fixture(scope="session")
def categories():
    """Session-scoped reference rows, written through the application's sessionmaker."""
    with SessionLocal() as session:
        session.add_all([Category(name="tools"), Category(name="food")])
        session.commit()
    return 2


@pytest.fixture(scope="session")
def late_note():
    """Session-scoped, first needed by a test of a module whose module-scoped fixture is set
    up already (test_c_late.py): set up above it."""
    with SessionLocal.begin() as session:
        session.add(Note(text="late"))
    return "late"
