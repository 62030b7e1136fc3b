"""The pytest11 entry point ``uow``.

It loads the plugin's hooks (``hooks.py``) only where the installed SQLAlchemy is one pytest-uow
serves. Elsewhere it loads ``refusal.py`` instead, so that an environment with an older
SQLAlchemy, where pytest-uow was installed for another project, never has its pytest runs broken
by it: a project that configured the plugin gets one line saying what to install, the others
nothing at all.
"""

from __future__ import annotations

from types import ModuleType

from pytest_uow.compat import unsupported_sqlalchemy


def _implementation() -> ModuleType:
    if unsupported_sqlalchemy() is None:
        from pytest_uow import hooks

        return hooks
    from pytest_uow import refusal

    return refusal


# pytest registers this module: it carries the implementation's hooks and fixtures.
globals().update(
    {
        name: value
        for name, value in vars(_implementation()).items()
        if name.startswith(("pytest_", "uow_", "_uow"))
    }
)
