from getsession import get_session  # imported by name: the plugin replaces this binding too
from sqlalchemy import text


def add_batch(reference):
    with get_session() as session:
        session.execute(
            text("INSERT INTO batches (reference, qty) VALUES (:r, 1)"), {"r": reference}
        )
        session.commit()


def batch_count():
    with get_session() as session:
        return session.count()


def isolation_level():
    with get_session() as session:
        return session.connection().get_isolation_level()
