"""The settings: one table of them (``options.py``, which imports no SQLAlchemy), and reading,
checking and loading them once per run, precedence and source recorded (``resolve.py``)."""
