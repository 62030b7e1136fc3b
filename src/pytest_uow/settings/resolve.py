"""Settings: read once, with precedence command line > environment > ini > default.

Every value carries where it came from, so the report header can show it and every error can
name it. All checks happen here, in ``pytest_configure``: a bad value stops the run before any
test starts, as a one-line ``pytest.UsageError`` (exit code 4). What settings name (models,
migrations, a seed, the app's factories) is loaded here too, once.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
import sqlalchemy
from sqlalchemy import MetaData
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pytest_uow.compat import SQLALCHEMY_2
from pytest_uow.isolation.base import IsolationMode
from pytest_uow.isolation.registry import DEFAULT_ISOLATION, ISOLATIONS
from pytest_uow.loading import check_importable, load_object
from pytest_uow.migrations.alembic import AlembicSource
from pytest_uow.sessions.base import SessionAdapter
from pytest_uow.sessions.registry import ASYNC_KINDS, adapter_for
from pytest_uow.settings import options
from pytest_uow.sources.base import NoTables, SchemaSource
from pytest_uow.sources.metadata import MetaDataSource, load_metadata
from pytest_uow.sources.seed import SeededSource, load_seed
from pytest_uow.strategies.registry import DEFAULT_STRATEGY, STRATEGIES

T = TypeVar("T")

DEFAULT_DRIVER = "psycopg2"
_SYNC_DRIVERS = ("psycopg2", "psycopg")
# The plugin's own work is synchronous: an async driver's URL is used with its sync counterpart.
_SYNC_COUNTERPART = {"asyncpg": "psycopg2", "psycopg_async": "psycopg"}
# The worker suffix (_<run>_gw<n>) takes at most 21 bytes of PostgreSQL's 63.
MAX_PREFIX_LENGTH = 40
_SAFE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A setting's value and where it came from (``"default"`` when nobody set it)."""

    value: T
    source: str

    @property
    def is_default(self) -> bool:
        return self.source == "default"


@dataclass(frozen=True)
class Settings:
    """Every pytest-uow setting, resolved and checked, one field per ``options.SPECS`` entry
    (``Spec.field``); kept in ``config.stash``."""

    database_url: Sourced[URL | None]
    metadata: Sourced[str | None]
    isolation: Sourced[IsolationMode]
    strategy: Sourced[str]
    strategies: Sourced[tuple[tuple[str, str], ...]]  # (node id pattern, strategy), first wins
    keep: Sourced[bool]
    keep_failed: Sourced[bool]
    drop_kept: Sourced[bool]
    schema_prefix: Sourced[str]
    lock_timeout: Sourced[Seconds]
    sessionmakers: Sourced[tuple[str, ...]]
    pg_bindir: Sourced[str | None]
    check_leaks: Sourced[bool]
    rebuild: Sourced[bool]
    seed: Sourced[str | None]
    alembic: Sourced[str | None]
    check_migrations: Sourced[bool]
    live_app: Sourced[str | None]
    # What the named settings load, loaded once: the tables' source, the app's factories, and
    # the models (uow_metadata's MetaData, which the migration checks compare with).
    source: SchemaSource = field(default_factory=NoTables)
    adapters: tuple[SessionAdapter, ...] = ()
    models: MetaData | None = None
    migrations: AlembicSource | None = None  # uow_alembic's, also where a seed follows them
    # The tests' async connections' driver (asyncpg or psycopg); None when neither is there.
    async_driver: str | None = None

    @functools.cached_property
    def has_async_factories(self) -> bool:
        """Whether an application factory is async: every isolated test then has an async
        side (worked out once, not per test)."""
        return any(isinstance(adapter, ASYNC_KINDS) for adapter in self.adapters)

    @property
    def all(self) -> dict[options.Spec, Sourced[Any]]:
        """Every setting, in the table's order."""
        return {spec: getattr(self, spec.field) for spec in options.SPECS}

    @property
    def configured(self) -> bool:
        """Whether the project asked for pytest-uow through any setting at all."""
        return any(not setting.is_default for setting in self.all.values())


def resolve(config: pytest.Config) -> Settings:
    """Read every setting from its highest-precedence source and check it; load what the
    settings name (the tables' source, the app's factories) once, here."""
    read = _Reader(config)
    isolation = read(options.ISOLATION, _choice(ISOLATIONS), DEFAULT_ISOLATION)
    metadata = read(
        options.METADATA, _metadata_loader(read.where(options.METADATA), isolation.value)
    )
    alembic_spec = read(options.ALEMBIC, _check_spec)
    check_migrations = read(options.CHECK_MIGRATIONS, _parse_bool, False)
    if check_migrations.value and alembic_spec.value is None:
        raise pytest.UsageError(
            f"uow_check_migrations: {read.raw(options.CHECK_MIGRATIONS).value!r} from "
            f"{check_migrations.source}: there are no migrations to check; set uow_alembic "
            "to the path of alembic.ini"
        )
    alembic = read(
        options.ALEMBIC,
        _alembic_loader(config.rootpath, read.where(options.ALEMBIC), check_migrations.value),
    )
    sessionmakers = read(options.SESSIONMAKERS, _split_specs, ())
    adapters = read(options.SESSIONMAKERS, _load_adapters, ())
    # Imported when a test first uses the live server: an application that maps its ORM on
    # import must not be imported in every worker at start-up.
    live_app = read(options.LIVE_APP, _check_importable)
    url: Sourced[URL | None] = read(options.URL, parse_url)
    seed = read(options.SEED, _seed_loader(read.where(options.SEED), url.value is not None))
    drop_kept = read(options.DROP_KEPT, _parse_bool, False)
    keep_failed = read(options.KEEP_FAILED, _parse_bool, False)
    if keep_failed.value and url.value is None:
        raise pytest.UsageError(
            f"uow_keep_failed: on from {keep_failed.source}, but uow_database_url is not set: "
            "a failed test's rows are kept on a real server (the throwaway server is removed "
            "after each run)"
        )
    if drop_kept.value and url.value is None:
        raise pytest.UsageError(
            f"uow_drop_kept: on from {drop_kept.source}, but uow_database_url is not set: kept "
            "schemas live on a real server (the throwaway server is removed after each run)"
        )
    models = metadata.value[1].metadata if metadata.value is not None else None
    return Settings(
        database_url=url,
        metadata=_as_spec(metadata),
        isolation=isolation,
        strategy=read(options.STRATEGY, _name_in(STRATEGIES), DEFAULT_STRATEGY),
        strategies=read(options.STRATEGIES_BY_PATH, _strategies_by_path, ()),
        keep=read(options.KEEP, _parse_bool, False),
        keep_failed=keep_failed,
        drop_kept=drop_kept,
        schema_prefix=read(options.PREFIX, _check_prefix, "uow"),
        lock_timeout=read(options.LOCK_TIMEOUT, _parse_seconds, DEFAULT_LOCK_TIMEOUT),
        sessionmakers=sessionmakers,
        pg_bindir=read(options.PG_BINDIR, _check_bindir),
        check_leaks=read(options.CHECK_LEAKS, _parse_bool, False),
        rebuild=read(options.REBUILD, _parse_bool, False),
        seed=_as_spec(seed),
        alembic=_as_spec(alembic),
        check_migrations=check_migrations,
        live_app=live_app,
        source=tables_source(metadata.value, alembic.value, seed.value),
        adapters=adapters.value,
        models=models,
        migrations=alembic.value[1] if alembic.value is not None else None,
        async_driver=_async_driver(read.raw(options.URL), adapters.value),
    )


def tables_source(
    metadata: tuple[str, MetaDataSource] | None,
    alembic: tuple[str, AlembicSource] | None,
    seed: tuple[str, Callable[[SchemaSource], SchemaSource]] | None,
) -> SchemaSource:
    """What builds the tables, in one order: ``uow_alembic``'s migrations, else
    ``uow_metadata``'s ``create_all``, else nothing; ``uow_seed`` then fills whichever built
    them. (``uow_metadata`` beside ``uow_alembic`` is still the models the migration checks
    compare with.)"""
    source: SchemaSource = NoTables()
    if alembic is not None:
        source = alembic[1]
    elif metadata is not None:
        source = metadata[1]
    if seed is not None:
        source = seed[1](source)
    return source


def source_identity(settings: Settings) -> str:
    """The identity of the settings' schema source, for the dialect their server URL names
    (the throwaway server's: psycopg2)."""
    url = settings.database_url.value or make_url(f"postgresql+{DEFAULT_DRIVER}://")
    return settings.source.identity(url.get_dialect()())


def _as_spec(loaded: Sourced[Any]) -> Sourced[str | None]:
    """A setting that names something, as the header shows it: the name, not what it loads."""
    return Sourced(loaded.value[0] if loaded.value is not None else None, loaded.source)


class _Reader:
    """Each setting from its highest-precedence place, converted and checked (a ValueError of
    ``convert`` becomes the one-line usage error naming the setting and where it came from)."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    def raw(self, spec: options.Spec) -> Sourced[object]:
        return _raw(self._config, spec)

    def where(self, spec: options.Spec) -> str:
        """Where ``spec``'s value comes from, as messages about what it loads say it."""
        return self.raw(spec).source

    def __call__(
        self, spec: options.Spec, convert: Callable[[Any], T], default: object = None
    ) -> Sourced[T]:
        raw = self.raw(spec)
        if raw.is_default:
            raw = Sourced(default, "default")
            if default is None:
                return Sourced(None, raw.source)  # type: ignore[arg-type]
        return _check(spec, raw, convert)


def _overridden_on_the_command_line(config: pytest.Config, ini: str) -> bool:
    """Whether ``-o ini=value`` gave the ini key: that value comes from the command line."""
    overrides = getattr(config.option, "override_ini", None) or ()
    return any(override.partition("=")[0].strip() == ini for override in overrides)


def _raw(config: pytest.Config, spec: options.Spec) -> Sourced[object]:
    if spec.option is not None:
        value = config.getoption(spec.option)
        if value is not None:
            return Sourced(value, f"command line {spec.flag}")
    if spec.env in os.environ:
        return Sourced(os.environ[spec.env], f"environment {spec.env}")
    value = config.getini(spec.ini)
    if value is not None and value != []:
        if _overridden_on_the_command_line(config, spec.ini):
            return Sourced(value, f"command line -o {spec.ini}")
        where = config.inipath.name if config.inipath else "ini file"
        return Sourced(value, f"ini {spec.ini} in {where}")
    return Sourced(None, "default")


def _check(spec: options.Spec, raw: Sourced[object], convert: Callable[[Any], T]) -> Sourced[T]:
    try:
        return Sourced(convert(raw.value), raw.source)
    except ValueError as error:
        raise pytest.UsageError(f"{spec.ini}: {raw.value!r} from {raw.source}: {error}") from None


def _name_in(registry: Mapping[str, object]) -> Callable[[object], str]:
    """A name of the registry's."""

    def check(value: object) -> str:
        text = str(value).strip().lower()
        if text not in registry:
            raise ValueError(f"not one of: {', '.join(registry)}")
        return text

    return check


def _choice(registry: Mapping[str, T]) -> Callable[[object], T]:
    """The registry's entry a value names."""
    name = _name_in(registry)
    return lambda value: registry[name(value)]


def parse_url(value: object) -> URL:
    """A PostgreSQL URL; one without a driver means psycopg2, the driver we depend on."""
    try:
        url = make_url(str(value).strip())
    except ArgumentError:
        raise ValueError(
            "not a database URL; expected postgresql://user@host:port/database"
        ) from None
    if url.get_backend_name() == "postgres":  # Heroku's, Render's and many a DATABASE_URL
        driver = url.drivername.partition("+")[2]
        url = url.set(drivername=f"postgresql+{driver}" if driver else "postgresql")
    if url.get_backend_name() != "postgresql":
        raise ValueError(
            f"pytest-uow needs PostgreSQL, not {url.get_backend_name()}; "
            "expected postgresql://user@host:port/database"
        )
    if "+" not in url.drivername:
        return url.set(drivername=f"postgresql+{DEFAULT_DRIVER}")
    driver = url.get_driver_name()
    if driver in _SYNC_COUNTERPART:
        return url.set(drivername=f"postgresql+{_SYNC_COUNTERPART[driver]}")
    if driver not in _SYNC_DRIVERS:
        raise ValueError(
            f"pytest-uow cannot use the driver {driver}; use postgresql:// (psycopg2), "
            "postgresql+psycopg://, postgresql+asyncpg:// or postgresql+psycopg_async://"
        )
    if driver == "psycopg" and not SQLALCHEMY_2:
        raise ValueError(
            f"SQLAlchemy {sqlalchemy.__version__} has no psycopg (3) driver; use "
            "postgresql:// (psycopg2) or postgresql+asyncpg://, or SQLAlchemy 2"
        )
    return url


def url_async_driver(value: object) -> str | None:
    """The async driver a URL names (``asyncpg``, or ``psycopg`` for psycopg 3), if any: read
    from the URL's text, as ``postgres://`` (which SQLAlchemy has no dialect for) may be."""
    driver = make_url(str(value).strip()).drivername.partition("+")[2]
    return {"asyncpg": "asyncpg", "psycopg_async": "psycopg", "psycopg": "psycopg"}.get(driver)


def _async_driver(url: Sourced[object], adapters: tuple[SessionAdapter, ...]) -> str | None:
    """The driver of the tests' async connections: the application's own (every session of a
    test shares one connection under rollback), else the one uow_database_url names, else
    asyncpg or psycopg, whichever is installed."""
    for adapter in adapters:
        if isinstance(adapter, ASYNC_KINDS):
            driver = adapter.driver
            if driver is not None:
                return driver
    if url.value is not None:
        named = url_async_driver(url.value)
        if named is not None:
            return named
    for driver, module in (("asyncpg", "asyncpg"), ("psycopg", "psycopg")):
        if driver == "psycopg" and not SQLALCHEMY_2:
            continue  # SQLAlchemy 1.4 has no psycopg 3 dialect
        if importlib.util.find_spec(module) is not None:
            return driver
    return None


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not a yes/no value; use one of: 1, true, yes, on, 0, false, no, off")


class Seconds(float):
    """A duration in seconds, as the header shows it (``10 s``; ``0`` is ``no limit``)."""

    def __str__(self) -> str:
        return f"{self:g} s" if self else "no limit"

    @property
    def libpq_option(self) -> str | None:
        """The ``options`` item that sets PostgreSQL's ``lock_timeout`` to it (None: none)."""
        return f"-clock_timeout={round(self * 1000)}" if self else None


DEFAULT_LOCK_TIMEOUT = Seconds(10)


def _parse_seconds(value: object) -> Seconds:
    text = str(value).strip().removesuffix("s").strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86400:
        raise ValueError("not a number of seconds; use e.g. 10 or 2.5, or 0 for no limit")
    return Seconds(seconds)


def _check_prefix(value: object) -> str:
    text = str(value).strip()
    if not _SAFE_IDENTIFIER.match(text) or len(text) > MAX_PREFIX_LENGTH:
        raise ValueError(
            "not a safe schema name prefix; use lowercase letters, digits and _, "
            f"starting with a letter or _, at most {MAX_PREFIX_LENGTH} characters"
        )
    return text


def _check_bindir(value: object) -> str:
    path = Path(str(value).strip()).expanduser()
    missing = [name for name in ("initdb", "postgres") if not (path / name).is_file()]
    if missing:
        raise ValueError(
            f"no {' or '.join(missing)} in that directory; name the bin directory "
            "of a PostgreSQL installation (as printed by pg_config --bindir)"
        )
    return str(path.resolve())


def _check_spec(value: object) -> str | None:
    return str(value).strip()


def _check_importable(value: object) -> str | None:
    return check_importable(str(value).strip())


def _metadata_loader(
    where: str, mode: IsolationMode
) -> Callable[[object], tuple[str, MetaDataSource]]:
    def load(value: object) -> tuple[str, MetaDataSource]:
        spec = str(value).strip()
        source = MetaDataSource(load_metadata(spec), f"uow_metadata ({spec}, {where})")
        refusal = mode.refusal(source)
        if refusal is not None:
            raise ValueError(refusal)
        return spec, source

    return load


def _alembic_loader(
    root: Path, where: str, checked: bool
) -> Callable[[object], tuple[str, AlembicSource]]:
    """``checked``: several heads are a failed migration check, not a usage error."""

    def load(value: object) -> tuple[str, AlembicSource]:
        spec = str(value).strip()
        ini = (root / spec).resolve()
        return spec, AlembicSource(ini, spec, where, several_heads_allowed=checked)

    return load


def _seed_loader(
    where: str, engines_routed: bool
) -> Callable[[object], tuple[str, Callable[[SchemaSource], SchemaSource]]]:
    """``engines_routed``: whether the application's engines join the build (a server the
    settings name, which their URLs can name too)."""

    def load(value: object) -> tuple[str, Callable[[SchemaSource], SchemaSource]]:
        spec = str(value).strip()
        seed, code, asks_for = load_seed(spec)
        if asks_for == "nothing" and not engines_routed:
            raise ValueError(
                "takes no argument, so it writes through the application's own engines, which "
                "reach the worker namespace only when uow_database_url names their database: "
                "set uow_database_url, or give the seed a Connection or Session parameter"
            )
        return spec, lambda tables: SeededSource(tables, seed, spec, where, code)

    return load


def _strategies_by_path(value: object) -> tuple[tuple[str, str], ...]:
    """``pattern = strategy`` lines (or comma-separated, from the environment)."""
    pairs = []
    for line in _split_specs(value):
        pattern, equals, strategy = (part.strip() for part in line.rpartition("="))
        if not equals or not pattern:
            raise ValueError(f"{line!r} is not 'pattern = strategy' (e.g. tests/e2e/* = truncate)")
        if strategy not in STRATEGIES:
            raise ValueError(f"{line!r}: {strategy!r} is not one of: {', '.join(STRATEGIES)}")
        pairs.append((pattern, strategy))
    return tuple(pairs)


def _split_specs(value: object) -> tuple[str, ...]:
    specs = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    return tuple(spec.strip() for spec in specs if spec.strip())


def _load_adapters(value: object) -> tuple[SessionAdapter, ...]:
    return tuple(adapter_for(spec, load_object(spec)) for spec in _split_specs(value))
