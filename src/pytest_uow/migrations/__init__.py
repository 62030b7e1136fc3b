"""``uow_alembic`` and ``uow_check_migrations``: the application's migrations as a source of
tables (``alembic.py``: validation and identity; ``replay.py``: the captured build;
``runner.py``: revision by revision), and what is checked of them (``checks.py``), as test items
run once per run (``items.py``)."""
