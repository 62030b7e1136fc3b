"""Async SQLAlchemy: the worker's async engines, one per event loop (``engines.py``), and one
test's async side, which every async session of the test binds to (``test_side.py``)."""
