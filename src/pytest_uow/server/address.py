"""The run's one server, as every part of the plugin reaches it: the URL the settings name, or
the throwaway server the run starts. Decided once, in ``pytest_configure``; nothing downstream
asks the settings again."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.engine import URL

from pytest_uow.server.run import ServerState


class ServerAddress(Protocol):
    """Where the run's namespaces live."""

    @property
    def where(self) -> str:
        """The server as messages name it (never its password)."""

    @property
    def setting(self) -> str | None:
        """The setting that named the server and where it came from, as remedies name it;
        None for the throwaway server."""

    def url(self) -> URL:
        """The server's URL (the throwaway server is started by the first call of the run)."""

    @property
    def named_by_settings(self) -> URL | None:
        """The URL the settings name, which the application's own engines may name too; None
        for the throwaway server, whose URL only the plugin hands out."""

    def state(self) -> ServerState | None:
        """The throwaway server's state once started; None for a configured server."""

    def stop(self) -> None:
        """The end of the run (the controller's): the throwaway server is stopped."""


class ConfiguredServer:
    """``uow_database_url``: a server somebody else runs."""

    def __init__(self, url: URL, source: str) -> None:
        self._url = url
        self.where = url.render_as_string(hide_password=True)
        self.setting = f"uow_database_url ({source})"

    def url(self) -> URL:
        return self._url

    @property
    def named_by_settings(self) -> URL | None:
        return self._url

    def state(self) -> ServerState | None:
        return None

    def stop(self) -> None:
        return None
