"""Fixtures of the streaming suite: ``AsyncFxSocket`` streams against a real simulator.

The simulator's market is still (``quote_interval=None``) unless a test asks
otherwise, so every quote a test sees is one it caused with ``sim.set_price``
or ``sim.tick``. Stream timings are shortened so that reconnects and liveness
deadlines take tens of milliseconds, never production seconds. Every test
runs over both WebSocket clients (the ``transport`` fixture): the sessions
``make_streaming_client`` opens use the active one.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from fxsocket_async import AsyncFxSocket, StreamPolicy, always_open
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account
from tests.helpers.sim import FULL_KEY, WAIT, link, make_client, sim_config

__all__ = ["FAST_STREAM", "TRANSPORTS", "WAIT", "link", "make_streaming_client", "sim_config"]

#: The stream transports every test of this suite runs over.
TRANSPORTS = ("aiohttp", "picows")
#: The one the running test uses (set by the ``transport`` fixture).
_ACTIVE = {"transport": "aiohttp"}

#: Reconnect in tens of milliseconds; liveness deadlines off unless a test sets them.
FAST_STREAM = StreamPolicy(
    ping_interval=60.0,
    dead_after=60.0,
    quote_silence=None,
    market_open=always_open,
    reconnect_initial=0.02,
    reconnect_max=0.1,
    subscribe_timeout=WAIT,
)


@contextlib.asynccontextmanager
async def make_streaming_client(
    sim: Simulator, key: str = FULL_KEY, **kw: Any
) -> AsyncIterator[AsyncFxSocket]:
    """An open session on ``sim`` with ``FAST_STREAM`` unless ``stream=`` is given,
    over the test's transport (unless the policy names one other than the default)."""
    policy: StreamPolicy = kw.get("stream", FAST_STREAM)
    if policy.transport == "aiohttp":
        policy = dataclasses.replace(policy, transport=_ACTIVE["transport"])
    kw["stream"] = policy
    async with make_client(sim, key, **kw) as fx:
        yield fx


@pytest.fixture(autouse=True)
def in_every_dialect(dialect: str) -> str:
    """Every test of this suite runs against both dialects (root conftest's ``dialect``)."""
    return dialect


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "transports(*names): run a stream test only over these ('aiohttp', 'picows')"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test runs over each transport; ``@pytest.mark.transports(...)`` says which."""
    if "transport" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("transports")
    names = TRANSPORTS if marker is None else marker.args
    metafunc.parametrize("transport", names, indirect=True)


@pytest.fixture(autouse=True)
def transport(request: pytest.FixtureRequest) -> Iterator[str]:
    """The WebSocket client this test's sessions use (see ``pytest_generate_tests``)."""
    name: str = request.param
    _ACTIVE["transport"] = name
    try:
        yield name
    finally:
        _ACTIVE["transport"] = "aiohttp"


@pytest.fixture
async def fx(sim: Simulator) -> AsyncIterator[AsyncFxSocket]:
    async with make_streaming_client(sim) as session:
        yield session


@pytest.fixture
async def account(fx: AsyncFxSocket) -> Account:
    """A connected account on ``fx``."""
    with anyio.fail_after(WAIT):
        return await link(fx, connected=True)
