"""Settings: read once, with precedence command line > environment > ini > default.

Every value carries where it came from, so the report header can show it and every error can
name it. All checks happen here, in ``pytest_configure``: a bad value stops the run before any
test starts, as a one-line ``pytest.UsageError`` (exit code 4).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
import sqlalchemy
from sqlalchemy import MetaData
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pytest_uow import options
from pytest_uow.compat import SQLALCHEMY_2
from pytest_uow.isolation.registry import DEFAULT_ISOLATION, ISOLATIONS
from pytest_uow.loading import load_object
from pytest_uow.migrations import AlembicSource
from pytest_uow.sessions.base import SessionAdapter
from pytest_uow.sessions.registry import ASYNC_KINDS, adapter_for
from pytest_uow.sources import (
    MetaDataSource,
    NoTables,
    SchemaSource,
    SeededSource,
    load_metadata,
    load_seed,
)
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
    """Every pytest-uow setting, resolved and checked; kept in ``config.stash``."""

    url: Sourced[URL | None]
    metadata: Sourced[str | None]
    isolation: Sourced[str]
    strategy: Sourced[str]
    keep: Sourced[bool]
    drop_kept: Sourced[bool]
    schema_prefix: Sourced[str]
    sessionmakers: Sourced[tuple[str, ...]]
    # (node id pattern, strategy), first match wins; after the marker, before uow_strategy.
    strategies: Sourced[tuple[tuple[str, str], ...]]
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
    # What uow_live_app names, imported (a factory is called when the server first starts).
    live_target: object = None

    @functools.cached_property
    def has_async_factories(self) -> bool:
        """Whether an application factory is async: every isolated test then has an async
        side (worked out once, not per test)."""
        return any(isinstance(adapter, ASYNC_KINDS) for adapter in self.adapters)

    @property
    def all(self) -> dict[str, Sourced[Any]]:
        return {
            "server": self.url,
            "metadata": self.metadata,
            "isolation": self.isolation,
            "strategy": self.strategy,
            "strategies": self.strategies,
            "keep": self.keep,
            "drop kept": self.drop_kept,
            "schema prefix": self.schema_prefix,
            "sessionmakers": self.sessionmakers,
            "pg bindir": self.pg_bindir,
            "check leaks": self.check_leaks,
            "rebuild": self.rebuild,
            "seed": self.seed,
            "alembic": self.alembic,
            "check migrations": self.check_migrations,
            "live app": self.live_app,
        }

    @property
    def configured(self) -> bool:
        """Whether the project asked for pytest-uow through any setting at all."""
        return any(not setting.is_default for setting in self.all.values())


def resolve(config: pytest.Config) -> Settings:
    """Read every setting from its highest-precedence source and check it; load what the
    settings name (the tables' source, the app's factories) once, here."""
    isolation = _check(
        options.ISOLATION,
        _raw(config, options.ISOLATION, DEFAULT_ISOLATION),
        _choice(tuple(ISOLATIONS)),
    )
    raw_metadata = _raw(config, options.METADATA)
    metadata = _check(options.METADATA, raw_metadata, _check_spec)
    source: SchemaSource = NoTables()
    models = None
    if metadata.value is not None:
        models_loader = _source_loader(metadata.source, isolation.value)
        source = models_source = _check(options.METADATA, raw_metadata, models_loader).value
        models = models_source.metadata
    rebuild = _check(options.REBUILD, _raw(config, options.REBUILD, False), _parse_bool)
    raw_alembic = _raw(config, options.ALEMBIC)
    alembic = _check(options.ALEMBIC, raw_alembic, _check_spec)
    raw_check_migrations = _raw(config, options.CHECK_MIGRATIONS, False)
    check_migrations = _check(options.CHECK_MIGRATIONS, raw_check_migrations, _parse_bool)
    if check_migrations.value and alembic.value is None:
        raise pytest.UsageError(
            f"uow_check_migrations: {raw_check_migrations.value!r} from "
            f"{raw_check_migrations.source}: there are no migrations to check; set uow_alembic "
            "to the path of alembic.ini"
        )
    migrations = None
    if alembic.value is not None:
        loader = _alembic_loader(config.rootpath, alembic.source, check_migrations.value)
        source = migrations = _check(options.ALEMBIC, raw_alembic, loader).value
    raw_seed = _raw(config, options.SEED)
    seed = _check(options.SEED, raw_seed, _check_spec)
    if seed.value is not None:
        source = _check(options.SEED, raw_seed, _seed_loader(source, seed.source)).value
    raw_sessionmakers = _raw(config, options.SESSIONMAKERS, ())
    sessionmakers = _check(options.SESSIONMAKERS, raw_sessionmakers, _split_specs)
    adapters = _check(options.SESSIONMAKERS, raw_sessionmakers, _load_adapters).value
    raw_strategies = _raw(config, options.STRATEGIES_BY_PATH, ())
    strategies = _check(options.STRATEGIES_BY_PATH, raw_strategies, _strategies_by_path)
    raw_live_app = _raw(config, options.LIVE_APP)
    live_app = _check(options.LIVE_APP, raw_live_app, _check_spec)
    live_target = None
    if live_app.value is not None:
        live_target = _check(options.LIVE_APP, raw_live_app, _load_spec).value
    raw_url = _raw(config, options.URL)
    url: Sourced[URL | None] = _check(options.URL, raw_url, parse_url)
    drop_kept = _check(options.DROP_KEPT, _raw(config, options.DROP_KEPT, False), _parse_bool)
    if drop_kept.value and url.value is None:
        raise pytest.UsageError(
            f"uow_drop_kept: on from {drop_kept.source}, but uow_database_url is not set: kept "
            "schemas live on a real server (the throwaway server is removed after each run)"
        )
    return Settings(
        url=url,
        metadata=metadata,
        isolation=isolation,
        strategy=_check(
            options.STRATEGY,
            _raw(config, options.STRATEGY, DEFAULT_STRATEGY),
            _choice(tuple(STRATEGIES)),
        ),
        keep=_check(options.KEEP, _raw(config, options.KEEP, False), _parse_bool),
        drop_kept=drop_kept,
        schema_prefix=_check(options.PREFIX, _raw(config, options.PREFIX, "uow"), _check_prefix),
        sessionmakers=sessionmakers,
        strategies=strategies,
        pg_bindir=_check(options.PG_BINDIR, _raw(config, options.PG_BINDIR), _check_bindir),
        check_leaks=_check(
            options.CHECK_LEAKS, _raw(config, options.CHECK_LEAKS, False), _parse_bool
        ),
        rebuild=rebuild,
        seed=seed,
        alembic=alembic,
        check_migrations=check_migrations,
        live_app=live_app,
        live_target=live_target,
        source=source,
        adapters=adapters,
        models=models,
        migrations=migrations,
        async_driver=_async_driver(raw_url, adapters),
    )


def source_identity(settings: Settings) -> str:
    """The identity of the settings' schema source, for the dialect their server URL names
    (the throwaway server's: psycopg2)."""
    url = settings.url.value or make_url(f"postgresql+{DEFAULT_DRIVER}://")
    return settings.source.identity(url.get_dialect()())


def _overridden_on_the_command_line(config: pytest.Config, ini: str) -> bool:
    """Whether ``-o ini=value`` gave the ini key: that value comes from the command line."""
    overrides = getattr(config.option, "override_ini", None) or ()
    return any(override.partition("=")[0].strip() == ini for override in overrides)


def _raw(config: pytest.Config, spec: options.Spec, default: object = None) -> Sourced[object]:
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
    return Sourced(default, "default")


def _check(spec: options.Spec, raw: Sourced[object], convert: Callable[[Any], T]) -> Sourced[T]:
    if raw.is_default and raw.value is None:
        return Sourced(raw.value, raw.source)  # type: ignore[arg-type]
    try:
        return Sourced(convert(raw.value), raw.source)
    except ValueError as error:
        raise pytest.UsageError(f"{spec.ini}: {raw.value!r} from {raw.source}: {error}") from None


def _choice(choices: Sequence[str]) -> Callable[[object], str]:
    def check(value: object) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"not one of: {', '.join(choices)}")
        return text

    return check


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
    """The async driver a URL names (``asyncpg``, or ``psycopg`` for psycopg 3), if any."""
    driver = make_url(str(value).strip()).get_driver_name()
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


def _source_loader(where: str, isolation: str) -> Callable[[object], MetaDataSource]:
    def load(value: object) -> MetaDataSource:
        spec = str(value).strip()
        source = MetaDataSource(load_metadata(spec), f"uow_metadata ({spec}, {where})")
        refusal = ISOLATIONS[isolation].refusal(source)
        if refusal is not None:
            raise ValueError(refusal)
        return source

    return load


def _alembic_loader(root: Path, where: str, checked: bool) -> Callable[[object], AlembicSource]:
    """``checked``: several heads are a failed migration check, not a usage error."""

    def load(value: object) -> AlembicSource:
        spec = str(value).strip()
        return AlembicSource((root / spec).resolve(), spec, where, several_heads_allowed=checked)

    return load


def _seed_loader(tables: SchemaSource, where: str) -> Callable[[object], SchemaSource]:
    def load(value: object) -> SchemaSource:
        spec = str(value).strip()
        return SeededSource(tables, load_seed(spec), spec, where)

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


def _load_spec(value: object) -> object:
    return load_object(str(value).strip())


def _split_specs(value: object) -> tuple[str, ...]:
    specs = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    return tuple(spec.strip() for spec in specs if spec.strip())


def _load_adapters(value: object) -> tuple[SessionAdapter, ...]:
    return tuple(adapter_for(spec, load_object(spec)) for spec in _split_specs(value))
