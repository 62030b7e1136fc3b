"""anyio's loop lives as long as an async fixture of a wider scope: without one, each test has
a loop of its own, and the plugin's connection goes with it; with one, the tests it spans share
a loop and the connection."""

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.anyio
PIDS: list[int] = []


@pytest.fixture(scope="module")
def anyio_backend():
    return "asyncio"


async def backend_pid(connection):
    return (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def test_1_alone(uow_async_connection):
    PIDS.append(await backend_pid(uow_async_connection))


async def test_2_alone(uow_async_connection):
    PIDS.append(await backend_pid(uow_async_connection))


def test_3_each_had_a_loop_and_a_connection_of_its_own():
    assert PIDS[0] != PIDS[1]


@pytest.fixture(scope="module")
async def module_wide():
    yield  # noqa: PT022 - alive until the module ends, and anyio's loop with it


async def test_4_spanned(module_wide, uow_async_connection):
    PIDS.append(await backend_pid(uow_async_connection))


async def test_5_spanned(module_wide, uow_async_connection):
    PIDS.append(await backend_pid(uow_async_connection))


def test_6_they_shared_the_loop_and_the_connection():
    assert PIDS[2] == PIDS[3]
