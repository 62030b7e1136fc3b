"""Where a worker's tables live: the protocol (``base``), one module per isolation mode, and the
registry that ``uow_isolation`` picks from."""
