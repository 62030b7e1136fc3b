import json
import os
from pathlib import Path

import pytest
from sqlalchemy import text


@pytest.mark.parametrize("n", range(4))
def test_report_server(uow_engine, uow_database_url, n):
    with uow_engine.connect() as connection:
        settings = {
            name: connection.execute(text(f"SHOW {name}")).scalar_one()
            for name in (
                "data_directory",
                "fsync",
                "synchronous_commit",
                "full_page_writes",
                "listen_addresses",
                "server_version",
            )
        }
    data_dir = Path(settings["data_directory"])
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    report = dict(settings, pid=pid, uid=os.stat(f"/proc/{pid}").st_uid, url=uow_database_url)
    Path(os.environ["REPORT_DIR"], f"{os.getpid()}-{n}.json").write_text(json.dumps(report))
    if os.environ.get("LINGER"):
        import time

        time.sleep(60)
