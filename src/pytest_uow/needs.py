"""Which of the plugin's fixtures give a test an isolation of its own, and which only need the
worker's namespace open: the vocabulary of the one rule for which tests get the database
(``reset.need_of``), and of the entry point's question whether a project uses the plugin at
all. Imports nothing: every pytest run reads it."""

from __future__ import annotations

ASYNC_FIXTURES = frozenset(
    {"uow_async_connection", "uow_async_session_factory", "uow_async_session"}
)
FUNCTION_FIXTURES = (
    frozenset({"uow_connection", "uow_session_factory", "uow_session", "uow_live_server"})
    | ASYNC_FIXTURES
)
SESSION_FIXTURES = frozenset(
    {"uow_database_url", "uow_dsn", "uow_schema", "uow_engine", "uow_scoped_session"}
)
DATABASE_FIXTURES = FUNCTION_FIXTURES | SESSION_FIXTURES
