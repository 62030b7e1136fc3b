"""The run's server: the throwaway PostgreSQL (``run.py``, its binaries in ``binaries.py``, kept
alive by ``_watchdog.py``) or a configured one, behind one ``ServerAddress`` (``address.py``)."""
