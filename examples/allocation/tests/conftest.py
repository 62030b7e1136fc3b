"""The only test configuration the app needs: pyproject.toml names the metadata and the
default session factory; the plugin does the rest."""
