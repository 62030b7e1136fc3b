"""Re-binding the application's own session factories for each test: the protocol (``base``),
one adapter module per kind of factory, and the registry that picks the adapter."""
