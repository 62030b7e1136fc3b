"""How each test's writes are undone: the protocol (``base``), one module per family of
strategies, and the registry that is the one list of them."""
