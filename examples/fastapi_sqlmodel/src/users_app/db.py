"""The engine, the session dependency and the first superuser: nothing here knows about tests."""

from collections.abc import Iterator

from sqlmodel import Session, create_engine, select

from users_app import settings
from users_app.models import User

# --8<-- [start:get_db]
engine = create_engine(settings.DATABASE_URL)


def get_db() -> Iterator[Session]:
    with Session(engine) as session:
        yield session
        # --8<-- [end:get_db]


def init_db(session: Session) -> None:
    """Create the first superuser, once (``uow_seed`` calls it as the app's start-up does)."""
    found = session.exec(select(User).where(User.email == settings.FIRST_SUPERUSER)).first()
    if found is None:
        session.add(User(email=settings.FIRST_SUPERUSER, full_name="Admin", is_superuser=True))
        session.commit()
