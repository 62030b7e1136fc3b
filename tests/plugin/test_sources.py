"""The schema source: the DDL a rebuild replays, the identity that names a build, and the
application's metadata loaded once. Pure logic, no database."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table
from sqlalchemy.dialects import postgresql

from pytest_uow.settings.resolve import resolve
from pytest_uow.sources.base import NoTables
from pytest_uow.sources.metadata import MetaDataSource, load_metadata

DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _metadata(*extra: Column[object]) -> MetaData:
    metadata = MetaData()
    Table("orders", metadata, Column("id", Integer, primary_key=True))
    Table(
        "lines",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("order_id", ForeignKey("orders.id")),
        Column("sku", String(20)),
        *extra,
    )
    return metadata


def test_the_ddl_creates_every_table_parents_first() -> None:
    ddl = MetaDataSource(_metadata(), "test").ddl(DIALECT)

    assert ddl.index("CREATE TABLE orders") < ddl.index("CREATE TABLE lines")
    assert "REFERENCES orders (id)" in ddl


def test_the_identity_follows_what_the_build_creates() -> None:
    same = MetaDataSource(_metadata(), "a").identity(DIALECT)
    again = MetaDataSource(_metadata(), "b").identity(DIALECT)
    changed = MetaDataSource(_metadata(Column("qty", Integer)), "c").identity(DIALECT)

    assert same == again
    assert changed != same
    assert NoTables().identity(DIALECT) not in (same, changed)


CALLABLE_METADATA = """
from sqlalchemy import Column, Integer, MetaData, Table

calls = []

def make_metadata():
    calls.append(1)
    metadata = MetaData()
    Table("t", metadata, Column("id", Integer, primary_key=True))
    return metadata
"""


def test_a_callable_metadata_is_called_once_and_kept(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(models=CALLABLE_METADATA)
    pytester.syspathinsert()
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nuow_metadata = "models:make_metadata"\n')

    settings = resolve(pytester.parseconfig())

    import models  # type: ignore[import-not-found]

    assert models.calls == [1]
    assert isinstance(settings.source, MetaDataSource)
    assert list(settings.source.metadata.tables) == ["t"]


class _Extension:
    """Shaped as a Flask-SQLAlchemy extension: a MetaData per bind key."""

    def __init__(self, *metadatas: MetaData) -> None:
        self.metadatas = {None if i == 0 else f"bind{i}": m for i, m in enumerate(metadatas)}
        self.metadata = metadatas[0]


def _metadata_with(*names: str) -> MetaData:
    metadata = MetaData()
    for name in names:
        Table(name, metadata, Column("id", Integer, primary_key=True))
    return metadata


def test_every_binds_tables_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sys.modules[__name__],
        "EXTENSION",
        _Extension(_metadata_with("a"), _metadata_with("b")),
        raising=False,
    )

    assert sorted(load_metadata(f"{__name__}:EXTENSION").tables) == ["a", "b"]


def test_two_binds_with_one_table_name_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sys.modules[__name__],
        "EXTENSION",
        _Extension(_metadata_with("a"), _metadata_with("a")),
        raising=False,
    )

    with pytest.raises(
        ValueError,
        match=r"^binds None and 'bind1' both have a table a; pytest-uow builds every bind's "
        r"tables in the worker's one namespace$",
    ):
        load_metadata(f"{__name__}:EXTENSION")
