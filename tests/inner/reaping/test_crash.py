import os
import signal
from pathlib import Path

import pytest


@pytest.mark.parametrize("n", range(6))
def test_crash_once(uow_session, n):
    marker = Path(os.environ["REPORT_DIR"], "crashed")
    if n == 0 and not marker.exists():
        marker.write_text("once")
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 of the worker mid-test; xdist starts another
