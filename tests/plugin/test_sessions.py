"""The application's transactions behave as in production inside the test's isolation:
``commit()``, ``rollback()``, ``begin_nested()``, several sessions, a thread. These run in this
suite's own run, which uses the plugin on ``tests/models.py`` (as pytest-django tests itself),
with and without xdist as the suite is run."""

from __future__ import annotations

import threading

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from tests.models import batches


def _count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(batches)).scalar_one()


def test_rollback_returns_to_last_commit(uow_session_factory: sessionmaker[Session]) -> None:
    session = uow_session_factory()
    session.execute(batches.insert().values(reference="kept", qty=1))
    session.commit()
    session.execute(batches.insert().values(reference="undone", qty=1))
    session.rollback()
    assert session.execute(select(batches.c.reference)).scalars().all() == ["kept"]


def test_several_sessions_from_one_factory_see_each_others_commits(
    uow_session_factory: sessionmaker[Session],
) -> None:
    first, second = uow_session_factory(), uow_session_factory()
    first.execute(batches.insert().values(reference="a", qty=1))
    first.commit()
    assert _count(second) == 1
    second.execute(batches.insert().values(reference="b", qty=1))
    second.commit()
    assert _count(first) == 2


def test_begin_nested_inside_the_test(uow_session: Session) -> None:
    uow_session.execute(batches.insert().values(reference="outer", qty=1))
    nested = uow_session.begin_nested()
    uow_session.execute(batches.insert().values(reference="inner", qty=1))
    nested.rollback()
    uow_session.commit()
    assert uow_session.execute(select(batches.c.reference)).scalars().all() == ["outer"]


def test_session_used_from_another_thread_while_the_test_waits(
    uow_session_factory: sessionmaker[Session],
) -> None:
    def serve() -> None:
        session = uow_session_factory()
        session.execute(batches.insert().values(reference="from-thread", qty=1))
        session.commit()
        session.close()

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    assert _count(uow_session_factory()) == 1


def test_connection_and_session_share_the_transaction(
    uow_connection: Connection, uow_session: Session, uow_schema: str
) -> None:
    uow_session.execute(batches.insert().values(reference="s", qty=1))
    uow_session.commit()
    assert uow_connection.execute(select(func.count()).select_from(batches)).scalar_one() == 1
    assert uow_connection.execute(text("SHOW search_path")).scalar_one() == (
        f"{uow_schema},pytest_uow_extensions"
    )


def test_every_test_starts_empty(uow_session: Session) -> None:
    assert _count(uow_session) == 0
