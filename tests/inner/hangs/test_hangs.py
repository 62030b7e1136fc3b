"""Each first test ends with its row written and its session still open (failing, erring,
interrupted by pytest-timeout); the test after it inserts the same unique row, which waits on
the first one's transaction if that is still open (until uow_lock_timeout fails it)."""

import asyncio

import pytest
from sqlalchemy import text

INSERT = text("INSERT INTO users (email) VALUES ('same@example.com')")


async def write(session):
    await session.execute(INSERT)
    await session.flush()


@pytest.mark.asyncio
async def test_a1_function_loop_fails(uow_async_session):
    await write(uow_async_session)
    pytest.fail("fails on purpose")


@pytest.mark.asyncio
async def test_a2_same_row(uow_async_session):
    await write(uow_async_session)
    await uow_async_session.commit()


@pytest.fixture
def breaks_at_teardown():
    yield
    raise RuntimeError("a fixture fails at teardown")


@pytest.mark.asyncio(loop_scope="module")
async def test_b1_module_loop_errs(uow_async_session, breaks_at_teardown):
    await write(uow_async_session)


@pytest.mark.asyncio(loop_scope="module")
async def test_b2_same_row(uow_async_session):
    await write(uow_async_session)
    await uow_async_session.commit()


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_c1_anyio_fails(uow_async_session):
    await write(uow_async_session)
    pytest.fail("fails on purpose")


@pytest.mark.anyio
async def test_c2_same_row(uow_async_session):
    await write(uow_async_session)
    await uow_async_session.commit()


@pytest.mark.asyncio
@pytest.mark.timeout(1)
async def test_d1_interrupted_by_pytest_timeout(uow_async_session):
    await write(uow_async_session)
    await asyncio.sleep(30)


@pytest.mark.asyncio
async def test_d2_same_row(uow_async_session):
    await write(uow_async_session)
    await uow_async_session.commit()
