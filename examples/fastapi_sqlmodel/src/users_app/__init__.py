"""A sync FastAPI + SQLModel + Alembic users service, written as the full-stack FastAPI template
writes it: a module-level engine from the settings, ``Depends(get_db)``, ``init_db(session)``."""
