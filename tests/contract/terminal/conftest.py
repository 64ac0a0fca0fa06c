"""Fixtures of the terminal contract suite: the contract's simulator, one connected account.

``sim`` is the contract suite's (its keys: full, trade and read of one owner,
and a full key of another), with the periodic ``terminal`` push off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator

from ..helpers import Api, config
from .helpers import Terminal, connected_account


@pytest.fixture
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    async with Simulator(config(terminal_interval=None)) as simulator:
        yield simulator


@pytest.fixture
def api(http: aiohttp.ClientSession, sim: Simulator) -> Api:
    return Api(http, sim)


@pytest.fixture
async def account(api: Api) -> dict[str, Any]:
    """One connected MT5 account of the default owner; its JSON (with rest_url, ws_url)."""
    return await connected_account(api)


@pytest.fixture
def account_id(account: dict[str, Any]) -> str:
    return str(account["id"])


@pytest.fixture
def term(http: aiohttp.ClientSession, account: dict[str, Any]) -> Terminal:
    """The account's terminal REST API, with the full key."""
    return Terminal(http, account)
