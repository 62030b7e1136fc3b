"""Variables exported for the libpq connections the application and its child processes open on
their own: the isolation's (``PGOPTIONS`` with the worker's ``search_path``, or ``PGDATABASE``
and where the server is), and ``PGAPPNAME`` naming the running test; given back their previous
values at the end."""

from __future__ import annotations

import os

from pytest_uow.current import CURRENT
from pytest_uow.leftovers.naming import ConnectionNames


class Environment:
    """What the worker exported, and what was there before."""

    def __init__(self, names: ConnectionNames) -> None:
        self._names = names
        self._saved: dict[str, str | None] = {}

    def export(self, variables: dict[str, str]) -> None:
        """``variables``, and ``PGAPPNAME`` from now on, test by test."""
        for name, value in {**variables, "PGAPPNAME": self._names.current}.items():
            self._saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        CURRENT.listen(self._name_the_test)

    def _name_the_test(self, test: str | None) -> None:
        os.environ["PGAPPNAME"] = self._names.name_for(test)

    def before(self, name: str) -> str | None:
        """What ``name`` was before the worker exported it; None if it exported nothing there,
        or it was unset."""
        return self._saved.get(name)

    def exported(self, name: str) -> bool:
        return name in self._saved

    def restore(self) -> None:
        CURRENT.stop_listening(self._name_the_test)
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()
