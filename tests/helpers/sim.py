"""The suites' simulator and client: keys, ``sim_config``, ``make_client``, ``link``.

Everything here talks to a real ``Simulator`` over 127.0.0.1 (ephemeral port)
through the public ``AsyncFxSocket``; ``fake_time_session`` runs both on one
fake clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import anyio

from fxsocket_async import AsyncFxSocket, RetryPolicy, WatcherPolicy
from fxsocket_async.simulator import ApiKey, Simulator, SimulatorConfig
from fxsocket_async.types import Account

from .fake_time import Autojump, DrivenClock, autojump

__all__ = [
    "ACTIVE",
    "FAST_RETRY",
    "FAST_WATCHER",
    "FULL_KEY",
    "KEYS",
    "PASSWORD",
    "READ_KEY",
    "SERVER",
    "TRADE_KEY",
    "WAIT",
    "FakeTimeSession",
    "fake_time_session",
    "link",
    "make_client",
    "next_login",
    "sim_config",
]

FULL_KEY = "full-key"
TRADE_KEY = "trade-key"
READ_KEY = "read-key"
#: One owner's three keys, one per scope.
KEYS = (ApiKey(FULL_KEY, "full"), ApiKey(TRADE_KEY, "trade"), ApiKey(READ_KEY, "read"))
PASSWORD = "pw-Secret-7731"
SERVER = "Sim-Demo"

#: Fast polling and retries, so that tests never wait on production intervals.
FAST_WATCHER = WatcherPolicy(initial_interval=0.02, max_interval=0.1)
FAST_RETRY = RetryPolicy(initial_delay=0.01, max_delay=0.05)
#: Upper bound for any single wait in these tests (far below pytest-timeout).
WAIT = 10.0

_logins = count(700001)

#: The dialect the client suites run in: set per test by the ``dialect`` fixture of
#: tests/client and tests/stream (each of their tests runs in both); "auto" elsewhere.
ACTIVE: dict[str, str] = {"dialect": "auto"}


def next_login() -> int:
    """A login no other test of this process has linked."""
    return next(_logins)


def sim_config(**overrides: Any) -> SimulatorConfig:
    """The suites' simulator: three keys of one owner, fast provisioning, a still market."""
    fields: dict[str, Any] = {
        "terminal": ACTIVE["dialect"] != "reference",
        "api_keys": KEYS,
        "provision_delay": 0.05,
        "seed": 1,
        "quote_interval": None,
        "rate_limit": None,
        "terminal_interval": None,
        # A test's burst is written out in one go: a terminal socket's slow-client
        # drops are for the tests that ask for them (terminal_queue_limit=...).
        "terminal_queue_limit": 100_000,
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
        "dialect": ACTIVE["dialect"],
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


@dataclass
class FakeTimeSession:
    """A simulator and a client sharing one driven fake clock (``fake_time_session``)."""

    clock: DrivenClock
    sim: Simulator
    fx: AsyncFxSocket
    driver: Autojump

    async def connected_account(self, **link_options: Any) -> Account:
        """Link an account, bring its terminal up now, wait (on fake time) until connected."""
        account = await link(self.fx, **link_options)
        self.sim.complete_provisioning(account.id)
        return await self.fx.accounts.wait_connected(account.id, timeout=WAIT)


@contextlib.asynccontextmanager
async def fake_time_session(
    config: SimulatorConfig | None = None,
    *,
    key: str = FULL_KEY,
    stall_every: float | None = None,
    stall_for: float = 0.0,
    real_timeout: float = 30.0,
    **client: Any,
) -> AsyncIterator[FakeTimeSession]:
    """``Simulator(config)`` and ``make_client`` on one ``DrivenClock``, driven by ``autojump``.

    The simulator's rate limit reads the fake clock; its terminals never come
    up on their own (``provision_delay=60`` real seconds unless ``config`` says
    otherwise), since real timers would race fake time: tests finish
    provisioning by hand. The block is bounded by ``real_timeout`` real seconds.
    """
    clock = DrivenClock()
    config = config or sim_config(provision_delay=60)
    async with (
        Simulator(config, monotonic=clock.monotonic) as sim,
        make_client(sim, key, clock=clock, **client) as fx,
    ):
        assert fx._parts is not None
        transport = fx._parts.rest.transport
        async with autojump(clock, transport, stall_every=stall_every, stall_for=stall_for) as d:
            with anyio.fail_after(real_timeout):
                yield FakeTimeSession(clock, sim, fx, d)
