"""The only test configuration the app needs is in pyproject.toml: its tables and its session
factory. The plugin does the rest."""
