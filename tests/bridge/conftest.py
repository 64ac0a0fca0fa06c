"""Fixtures of the bridge suite: a real ``nats-server -js`` and the simulator, in-process.

Every test gets its own nats-server (ephemeral loopback port, temporary store)
and simulator; the bridge runs in-process through the real ``AsyncFxSocket``.
JetStream is read with plain nats-py, the way any consumer on another host would.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient

from fxsocket_async import AsyncFxSocket
from fxsocket_async.bridge import Bridge, nats_server
from fxsocket_async.bridge._wire import BridgeEvent, Wire, decode_event
from fxsocket_async.simulator import Simulator
from tests.helpers.sim import WAIT, link, sim_config
from tests.stream.conftest import FAST_STREAM, make_streaming_client

__all__ = ["FAST_STREAM", "WAIT", "bridge_for", "link", "read_events", "sim_config"]


@pytest.fixture
async def nats_url(anyio_backend: str) -> AsyncIterator[str]:
    async with nats_server() as url:
        yield url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def bridge_for(
    fx: AsyncFxSocket, url: str, accounts: list[str], **kw: Any
) -> AsyncIterator[Bridge]:
    """A started bridge, recovered and live, with short intervals."""
    options: dict[str, Any] = {"monitor_interval": 0.05, "latest_interval": 0.01}
    options.update(kw)
    async with Bridge(fx, nats=url, accounts=accounts, **options) as bridge:
        await bridge.ready(WAIT)
        yield bridge


async def read_events(
    nc: NatsClient, account: str, *, wire: Wire | None = None
) -> list[tuple[str, BridgeEvent]]:
    """Every message of an account's events subject so far: (Nats-Msg-Id, event)."""
    wire = wire or Wire()
    js = nc.jetstream()
    info = await js.stream_info(wire.events_stream)
    out: list[tuple[str, BridgeEvent]] = []
    if not info.state.messages:
        return out
    for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
        msg = await js.get_msg(wire.events_stream, seq)
        if msg.subject != wire.events_subject(account):
            continue
        headers = msg.headers or {}
        out.append((headers.get("Nats-Msg-Id", ""), decode_event(msg.data or b"")))
    return out


@contextlib.asynccontextmanager
async def session(sim: Simulator) -> AsyncIterator[AsyncFxSocket]:
    async with make_streaming_client(sim, stream=FAST_STREAM) as fx:
        yield fx


@pytest.fixture(autouse=True)
def in_every_dialect(dialect: str) -> str:
    """Every test of this suite runs against both dialects (root conftest's ``dialect``)."""
    return dialect
