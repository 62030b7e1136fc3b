import json
import os

import pytest
from sqlalchemy import create_engine, text


@pytest.mark.parametrize("n", range(6))
def test_report(uow_schema, uow_database_url, n, tmp_path_factory):
    plain = create_engine(os.environ["UOW_DATABASE_URL"])
    with plain.connect() as connection:
        exists = connection.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": uow_schema}
        ).scalar_one()
    plain.dispose()
    assert exists == 1
    out = os.environ["REPORT_DIR"]
    with open(os.path.join(out, f"{os.getpid()}-{n}.json"), "w") as f:
        json.dump({"schema": uow_schema, "url": uow_database_url}, f)
