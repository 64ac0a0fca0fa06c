"""Fixtures of every suite: the anyio backend, a default suite simulator, an HTTP session.

Shared helpers live in ``tests/helpers/`` (conftest files import nothing from
each other). A suite whose simulator differs overrides ``sim`` in its conftest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator
from tests.helpers.sim import sim_config


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    """The suites' simulator (``sim_config()``) on 127.0.0.1, an ephemeral port."""
    async with Simulator(sim_config()) as simulator:
        yield simulator


@pytest.fixture
async def http(anyio_backend: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, for suites that talk to the simulator without our client."""
    async with aiohttp.ClientSession() as session:
        yield session
