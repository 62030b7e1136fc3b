import os
from pathlib import Path


def children_of_this_process():
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid():
            children.append(stat.parent.name)
    return children


def test_untouched():
    assert "PGOPTIONS" not in os.environ
    assert "PGAPPNAME" not in os.environ
    # A server would have been started by now, by this process, under a watchdog child.
    assert children_of_this_process() == []


def test_the_plugin_was_never_loaded(pytestconfig):
    """Only the entry point: neither the plugin's hooks nor SQLAlchemy were imported for it."""
    import sys

    assert "pytest_uow.plugin" in sys.modules
    assert "pytest_uow.hooks" not in sys.modules
    assert "sqlalchemy" not in sys.modules
    assert not pytestconfig.pluginmanager.has_plugin("uow-hooks")
