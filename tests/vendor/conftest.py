"""Fixtures of the vendor suite: our simulator, and the vendor SDK's own client on it.

The vendor SDK (``fxsocket`` 0.8.0, installed by the ``dev`` extra) talks to the
simulator over 127.0.0.1 exactly as it talks to the service: its management
client at ``{base_url}/v1``, its terminal clients at each account's
``rest_url`` and ``ws_url``. httpx and websockets run on the test's asyncio loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import fxsocket
import pytest

from fxsocket_async.simulator import Simulator
from tests.helpers.sim import sim_config

from .helpers import FULL


@pytest.fixture
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    async with Simulator(sim_config(terminal_interval=None)) as simulator:
        yield simulator


@pytest.fixture
async def fx(sim: Simulator) -> AsyncIterator[fxsocket.AsyncClient]:
    base_url = sim.base_url + "/v1"
    async with fxsocket.AsyncClient(api_key=FULL, base_url=base_url, timeout=10) as client:
        yield client
