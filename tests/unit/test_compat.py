"""The private names of SQLAlchemy, Alembic and pytest that the plugin relies on, each behind one
wrapper in ``compat.py``, pinned here on the installed versions (tox runs this file on
SQLAlchemy 1.4 and 2.0 too): if a release renames one, this fails, not a user's run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from pytest_uow import compat


@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
def test_create_engine_isolation_level_is_read_back(level: str) -> None:
    """The Cosmic Python spelling, ``create_engine(isolation_level=...)``, kept only on the
    dialect."""
    engine = create_engine("postgresql+psycopg2://u@localhost/db", isolation_level=level)
    assert compat.requested_isolation_level(engine) == level


def test_execution_options_isolation_level_is_read_back() -> None:
    engine = create_engine("postgresql+psycopg2://u@localhost/db").execution_options(
        isolation_level="REPEATABLE READ"
    )
    assert compat.requested_isolation_level(engine) == "REPEATABLE READ"


def test_an_engine_that_asks_for_no_level_has_none() -> None:
    engine = create_engine("postgresql+psycopg2://u@localhost/db")
    assert compat.requested_isolation_level(engine) is None


def test_skip_at_item_location_is_a_skip() -> None:
    with pytest.raises(pytest.skip.Exception, match="why"):
        compat.skip_at_item_location("why")


def test_alembic_steps_plan_up_and_down(tmp_path: Path) -> None:
    """Two revisions: the plan up from nothing has both, in order; down from the head, one."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "script.py.mako").write_text("")
    for revision, down in (("a1", None), ("b2", "a1")):
        (scripts / "versions" / f"{revision}.py").write_text(
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
            "def upgrade():\n    pass\ndef downgrade():\n    pass\n"
        )
    config = Config()
    config.set_main_option("script_location", str(scripts))
    script = ScriptDirectory.from_config(config)
    up = compat.alembic_steps(script, "heads", (), False)
    down = compat.alembic_steps(script, "a1", ("b2",), True)
    assert [step.revision.revision for step in up] == ["a1", "b2"]
    assert [step.revision.revision for step in down] == ["b2"]
