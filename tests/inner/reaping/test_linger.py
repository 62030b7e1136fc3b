import os
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize("n", range(2))  # one test for each of two workers
def test_linger(uow_session, uow_schema, n):
    Path(os.environ["REPORT_DIR"], uow_schema).write_text(uow_schema)
    if os.environ.get("LINGER"):
        time.sleep(120)
