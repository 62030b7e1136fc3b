"""What builds a worker's tables: the ``SchemaSource`` protocol (``base.py``), the application's
``MetaData`` (``metadata.py``) and its seed (``seed.py``); Alembic's migrations are a source too
(``migrations/``)."""
