"""Which connections are the configured database's, and where a routed one goes instead.

A connection is the configured database's when its connect arguments name the same server (host
and port; the local names of one machine count as one) and the same database, whatever the
driver. The plugin's own connections, and those built from the URLs it hands out, carry its
application name and are left alone. A routed connection keeps the application's own arguments
(its timeouts, its driver's options) and takes the worker namespace's server, database,
credentials and ``search_path`` (an engine the settings name is routed whatever its URL names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL

PLUGIN_APPLICATION_NAME = "pytest-uow "  # how every connection of the plugin's names itself
_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})
_DEFAULT_PORT = 5432


def _host(value: object) -> str:
    """One spelling for the names of this machine; a socket directory stays itself."""
    host = value if isinstance(value, str) else ""
    return "localhost" if host in _LOCAL_HOSTS else host


def _port(value: object) -> int:
    try:
        return int(value) if value not in (None, "") else _DEFAULT_PORT  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return -1


def _application_name(params: Mapping[str, Any]) -> str:
    """libpq drivers take it as an argument, asyncpg among its server settings."""
    settings = params.get("server_settings")
    if isinstance(settings, Mapping) and isinstance(settings.get("application_name"), str):
        return str(settings["application_name"])
    name = params.get("application_name")
    return name if isinstance(name, str) else ""


def is_the_plugins(params: Mapping[str, Any]) -> bool:
    """A connection of the plugin's, or of an engine built from a URL it handed out."""
    return _application_name(params).startswith(PLUGIN_APPLICATION_NAME)


@dataclass(frozen=True)
class DatabaseAddress:
    """A database as connect arguments name it: server and database name."""

    host: str
    port: int
    database: str

    @classmethod
    def of_url(cls, url: URL) -> DatabaseAddress:
        query_host = url.query.get("host")
        host = url.host or (query_host if isinstance(query_host, str) else "")
        return cls(_host(host), _port(url.port), url.database or url.username or "")

    def describe(self) -> str:
        return f"database {self.database} on {self.host}:{self.port}"

    @classmethod
    def of_params(cls, params: Mapping[str, Any]) -> DatabaseAddress:
        """From what a dialect's ``create_connect_args`` made (libpq's ``dbname`` or asyncpg's
        ``database``; an unnamed database is the user's, as libpq has it)."""
        database = params.get("dbname") or params.get("database") or params.get("user") or ""
        return cls(_host(params.get("host")), _port(params.get("port")), str(database))


def option_settings(options: str | tuple[str, ...] | None) -> dict[str, str]:
    """The settings of libpq ``options`` (``-csearch_path=s -c lock_timeout=10000``, a string
    or a URL query's tuple of them), for a driver that takes settings instead (asyncpg)."""
    items = options if isinstance(options, str) else " ".join(options or ())
    settings = {}
    for option in items.split():
        name, _, value = option.removeprefix("-c").partition("=")
        if name and value:
            settings[name] = value
    return settings


def routed_params(
    params: Mapping[str, Any], worker: URL, search_path: str | None, asyncpg: bool
) -> dict[str, Any]:
    """``params`` of an application connection, pointed at the worker namespace: ``worker``'s
    database and credentials, its ``search_path`` where the namespace is a schema, and the
    ``lock_timeout`` the worker's URL sets (libpq's ``options``; asyncpg's
    ``server_settings``, which libpq options do not reach)."""
    routed = dict(params)
    host = worker.host or worker.query.get("host")  # a socket directory comes in the query
    port = worker.port or worker.query.get("port")
    if isinstance(host, str):
        routed["host"] = host
    if isinstance(port, (int, str)):
        routed["port"] = int(port)
    database_key = "database" if asyncpg else "dbname"
    routed.pop("database" if not asyncpg else "dbname", None)
    routed[database_key] = worker.database
    if worker.username:
        routed["user"] = worker.username
    if worker.password is not None:
        routed["password"] = worker.password
    wanted = {} if search_path is None else {"search_path": search_path}
    lock_timeout = option_settings(worker.query.get("options")).get("lock_timeout")
    if lock_timeout is not None:  # uow_lock_timeout, on the worker's URL
        wanted["lock_timeout"] = lock_timeout
    if not wanted:
        return routed
    if asyncpg:
        routed["server_settings"] = {**(routed.get("server_settings") or {}), **wanted}
    else:
        added = " ".join(f"-c{name}={value}" for name, value in wanted.items())
        routed["options"] = f"{routed.get('options') or ''} {added}".strip()
    return routed
