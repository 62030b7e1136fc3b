"""The worker's namespace: opening it on the run's server (``opening.py``), the worker's own
(``worker.py``: open, latch, close), its engines and environment, and its baseline, the reset
target (``baseline.py``), emptied by ``cleaning.py``."""
