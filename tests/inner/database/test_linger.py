import os
import time
from pathlib import Path

import pytest
from sqlalchemy import text


@pytest.mark.parametrize("n", range(2))  # one test for each of two workers
def test_linger(uow_session, n):
    name = uow_session.execute(text("SELECT current_database()")).scalar_one()
    Path(os.environ["REPORT_DIR"], name).write_text(name)
    if os.environ.get("LINGER"):
        time.sleep(120)
