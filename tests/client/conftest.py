"""Fixtures of the client suite: the public ``AsyncFxSocket`` against a simulator.

Everything here talks to a real ``Simulator`` over 127.0.0.1 (ephemeral port).
Test modules (and other suites) reuse ``sim``, ``fx``, ``connected_account``
and the helpers ``sim_config``, ``make_client``, ``link`` and ``next_login``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from itertools import count
from typing import Any

import anyio
import pytest

from fxsocket_async import AsyncFxSocket, RetryPolicy, WatcherPolicy
from fxsocket_async.simulator import ApiKey, Simulator, SimulatorConfig
from fxsocket_async.types import Account

FULL_KEY = "full-key"
TRADE_KEY = "trade-key"
READ_KEY = "read-key"
PASSWORD = "pw-Secret-7731"
SERVER = "Sim-Demo"

#: Fast polling and retries, so that tests never wait on production intervals.
FAST_WATCHER = WatcherPolicy(initial_interval=0.02, max_interval=0.1)
FAST_RETRY = RetryPolicy(initial_delay=0.01, max_delay=0.05)
#: Upper bound for any single wait in these tests (far below pytest-timeout).
WAIT = 10.0

_logins = count(700001)


def next_login() -> int:
    """A login no other test of this process has linked."""
    return next(_logins)


def sim_config(**overrides: Any) -> SimulatorConfig:
    """The suite's simulator: three keys of one owner, fast provisioning, a still market."""
    fields: dict[str, Any] = {
        "api_keys": (
            ApiKey(FULL_KEY, "full"),
            ApiKey(TRADE_KEY, "trade"),
            ApiKey(READ_KEY, "read"),
        ),
        "provision_delay": 0.05,
        "seed": 1,
        "quote_interval": None,
        "rate_limit": None,
    }
    fields.update(overrides)
    return SimulatorConfig(**fields)


@contextlib.asynccontextmanager
async def make_client(
    sim: Simulator, key: str = FULL_KEY, **kw: Any
) -> AsyncIterator[AsyncFxSocket]:
    """An open ``AsyncFxSocket`` on ``sim``; ``kw`` overrides any constructor argument."""
    options: dict[str, Any] = {
        "base_url": sim.base_url,
        "ws_url": sim.ws_url,
        "watcher": FAST_WATCHER,
        "retry": FAST_RETRY,
    }
    options.update(kw)
    async with AsyncFxSocket(key, **options) as fx:
        yield fx


async def link(
    fx: AsyncFxSocket,
    *,
    server: str = SERVER,
    login: int | None = None,
    password: str = PASSWORD,
    nickname: str | None = "bot",
    connected: bool = False,
) -> Account:
    """Link an account through the client; with ``connected=True`` wait until it is."""
    account = await fx.accounts.link(
        server=server,
        login=next_login() if login is None else login,
        password=password,
        nickname=nickname,
    )
    if connected:
        with anyio.fail_after(WAIT):
            account = await fx.accounts.wait_connected(account.id, timeout=5)
    return account


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    async with Simulator(sim_config()) as simulator:
        yield simulator


@pytest.fixture
async def fx(sim: Simulator) -> AsyncIterator[AsyncFxSocket]:
    async with make_client(sim) as client:
        yield client


@pytest.fixture
async def connected_account(fx: AsyncFxSocket) -> Account:
    """One account linked through ``fx`` and connected (as ``wait_connected`` returned it)."""
    return await link(fx, connected=True)
