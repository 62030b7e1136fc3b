"""Module-scoped rows from factory_boy (bound to the application's scoped_session, flushing)
and from polyfactory (bound to the plugin's uow_scoped_session, committing)."""

import pytest
import sqlalchemy

if sqlalchemy.__version__.startswith("1."):
    pytest.skip("polyfactory's SQLAlchemyFactory needs SQLAlchemy 2", allow_module_level=True)

import factory
from polyfactory.factories.sqlalchemy_factory import SQLAlchemyFactory
from polyfactory.fields import Use
from warehouse import Note, Session, User, emails, notes


class StaffFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        model = User
        sqlalchemy_session = Session
        sqlalchemy_session_persistence = "flush"

    email = factory.declarations.Sequence(lambda n: f"staff{n}@example.com")


class NoteFactory(SQLAlchemyFactory[Note]):
    __check_model__ = False
    __set_as_default_factory_for_type__ = False
    __session__ = None
    __async_session__ = None
    id = Use(lambda: None)


@pytest.fixture(scope="module")
def staff():
    yield [user.email for user in StaffFactory.create_batch(2)]
    Session.remove()


# --8<-- [start:poly_notes]
@pytest.fixture(scope="module")
def poly_notes(uow_scoped_session):
    NoteFactory.__session__ = uow_scoped_session
    created = NoteFactory.create_batch_sync(3)
    return sorted(note.text for note in created)


# --8<-- [end:poly_notes]


def test_g1_flushed_staff_are_seen(staff):
    assert set(staff) <= set(emails())
    assert len([e for e in emails() if e.startswith("staff")]) == 2
    StaffFactory.create()  # the test's own: gone after it


def test_g2_the_tests_staff_went(staff):
    assert len([e for e in emails() if e.startswith("staff")]) == 2


def test_g3_poly_notes(poly_notes):
    assert set(poly_notes) <= set(notes())
    NoteFactory.create_sync()


def test_g4_poly_notes_again(poly_notes, staff):
    assert len(set(notes()) - {"late"}) == 3
    assert len([e for e in emails() if e.startswith("staff")]) == 2
