"""Each extension works in the worker schema, under every strategy, and the rows stay there."""

import pytest
from sqlalchemy import text

STRATEGIES = ["rollback", "truncate", "recreate"]


@pytest.mark.parametrize(
    "strategy", [pytest.param(s, marks=pytest.mark.uow(strategy=s)) for s in STRATEGIES]
)
@pytest.mark.parametrize("round_", range(2))
def test_extensions_work_in_the_worker_schema(uow_connection, uow_schema, strategy, round_):
    run = uow_connection.execute
    assert run(text("SELECT current_schema()")).scalar() == uow_schema
    run(text("INSERT INTO users (email, name) VALUES ('grace@example.org', 'Grace Hopper')"))
    # citext compares without case, and keeps e-mail addresses unique that way
    assert run(text("SELECT count(*) FROM users WHERE email = 'ADA@example.ORG'")).scalar() == 1
    assert run(text("SELECT min(email) FROM users")).scalar() == "Ada@Example.org"
    # uuid-ossp gave the keys, pgcrypto the tokens
    assert run(text("SELECT count(DISTINCT id) FROM users")).scalar() == 2
    assert run(text("SELECT length(token) FROM users LIMIT 1")).scalar() == 64
    assert run(text("SELECT length(gen_salt('bf')) > 20")).scalar()
    # pg_trgm's operator, and its index
    assert run(text("SELECT name FROM users WHERE name % 'Grace Hoper'")).scalars().all() == [
        "Grace Hopper"
    ]
    assert run(text("SELECT similarity('abc', 'abd') > 0")).scalar()
    with pytest.raises(Exception, match="users_email_key"), uow_connection.begin_nested():
        run(text("INSERT INTO users (email, name) VALUES ('GRACE@example.org', 'twin')"))
    assert run(text("SELECT count(*) FROM users")).scalar() == 2, "the test starts at the baseline"
