import os
import time
from pathlib import Path


def pytest_runtest_setup(item):
    # A worker at its first test has its database ready: test_2 waits for every worker's.
    (Path(os.environ["SERVER_GONE"]).parent / f"ready-{os.getpid()}").touch()
    if item.name.startswith(("test_3", "test_4")):
        deadline = time.monotonic() + 60
        while not Path(os.environ["SERVER_GONE"]).exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
