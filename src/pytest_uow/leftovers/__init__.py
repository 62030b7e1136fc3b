"""What a test left behind, and whose it is: rows (``leaks.py``), locks and connections
(``locks.py``), and the names that tie a connection to the test that opened or held it
(``naming.py``)."""
