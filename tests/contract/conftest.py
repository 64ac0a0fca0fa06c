"""Fixtures of the contract suite: one simulator and one aiohttp session per test.

``sim`` overrides the root conftest's: the contract's simulator has a key of
another owner too (``helpers.config``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator

from .helpers import Api, config


@pytest.fixture
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    async with Simulator(config()) as simulator:
        yield simulator


@pytest.fixture
def api(http: aiohttp.ClientSession, sim: Simulator) -> Api:
    return Api(http, sim)


@pytest.fixture
async def account(api: Api) -> dict[str, Any]:
    """One connected account of the default owner (keys full, trade and read)."""
    return await api.link_connected()


@pytest.fixture
def account_id(account: dict[str, Any]) -> str:
    return str(account["id"])
