"""``RemoteFxSocket.quotes`` and ``.events``: modes, counted gaps, durable positions.

Quote batches are published here with plain nats-py where a test needs exact
control of ``Fx-Seq`` (what a bridge sends, message by message); events come
from a real bridge on the simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from nats.aio.client import Client as NatsClient

from fxsocket_async import ConfigurationError
from fxsocket_async.bridge import RemoteFxSocket
from fxsocket_async.bridge._wire import EPOCH_HEADER, SEQ_HEADER, Wire, encode_quotes
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import OrderOpened, Quote
from tests.helpers.poll import poll
from tests.stream.conftest import make_streaming_client

from .conftest import FAST_STREAM, WAIT, bridge_for, sim_config

pytestmark = pytest.mark.anyio

WIRE = Wire()


def quote(bid: float, symbol: str = "EURUSD") -> Quote:
    from datetime import UTC, datetime

    return Quote(symbol=symbol, bid=bid, ask=bid + 0.0001, time=datetime.now(UTC))


async def publish(nc: NatsClient, quotes: list[Quote], seq: int, epoch: str = "e1") -> None:
    subject = WIRE.quotes_subject("acc.1", quotes[0].symbol)
    headers = {SEQ_HEADER: str(seq), EPOCH_HEADER: epoch}
    await nc.publish(subject, encode_quotes(quotes), headers=headers)


async def test_fx_seq_jumps_are_counted_and_a_new_bridge_run_starts_over(
    nats_url: str, nc: NatsClient
) -> None:
    async with (
        RemoteFxSocket(nats=nats_url) as fx,
        fx.quotes("EURUSD", account="acc.1", mode="all") as quotes,
    ):
        await publish(nc, [quote(1.1), quote(1.2)], seq=1)
        await publish(nc, [quote(1.3)], seq=4)  # batches 2 and 3 never came
        await publish(nc, [quote(1.4)], seq=1, epoch="e2")  # a restarted bridge
        await nc.publish(WIRE.quotes_subject("acc.1", "EURUSD"), b"not json")
        await publish(nc, [quote(1.5)], seq=2, epoch="e2")
        with anyio.fail_after(WAIT):
            bids = [(await quotes.__anext__()).bid for _ in range(5)]
        stats = quotes.stats()
    assert bids == [1.1, 1.2, 1.3, 1.4, 1.5]
    assert stats.missed_batches == 2
    assert stats.decode_errors == 1
    assert stats.delivered == 5


async def test_conflate_mode_reads_the_newest_and_counts_what_it_replaced(
    nats_url: str, nc: NatsClient
) -> None:
    async with (
        RemoteFxSocket(nats=nats_url) as fx,
        fx.quotes("EURUSD", account="acc.1") as quotes,
    ):
        for seq, bid in enumerate((1.1, 1.2, 1.3), start=1):
            await publish(nc, [quote(bid)], seq=seq)
        # Nothing tells when NATS has handed all three over: the counters do.
        await poll(lambda: quotes.stats().conflated == 2, timeout=WAIT, what="two conflated")
        with anyio.fail_after(WAIT):
            newest = await quotes.__anext__()
    assert newest.bid == 1.3


@pytest.fixture
async def bridged(nats_url: str) -> AsyncIterator[tuple[Any, str]]:
    async with Simulator(sim_config()) as sim, make_streaming_client(sim, stream=FAST_STREAM) as fx:
        account = sim.link_account("Sim-Demo", 850001, connected=True).id
        async with bridge_for(fx, nats_url, [account]):
            yield fx.account(account).orders, account


async def next_order(events: Any) -> str:
    with anyio.fail_after(WAIT):
        for _ in range(100):  # account figures and statuses come between order events
            event = await events.__anext__()
            if isinstance(event, OrderOpened):
                return event.data.id
    raise AssertionError("no order event among 100")


async def test_a_durable_consumer_resumes_after_the_last_event_it_took(
    nats_url: str, bridged: tuple[Any, str]
) -> None:
    orders, account = bridged
    placed = [(await orders.create("EURUSD", "BUY", 0.01)).id for _ in range(3)]
    async with RemoteFxSocket(nats=nats_url) as fx:
        async with fx.events(account=account, durable="risk") as events:
            first = await next_order(events)
        async with fx.events(account=account, durable="risk") as events:
            rest = [await next_order(events), await next_order(events)]
            assert events.stats()["duplicates"] == 0
        with pytest.raises(ConfigurationError, match="another account"):
            async with fx.events(account="some-other-account", durable="risk"):
                pass
    assert [first, *rest] == placed


async def test_without_durable_events_start_now(nats_url: str, bridged: tuple[Any, str]) -> None:
    orders, account = bridged
    await orders.create("EURUSD", "BUY", 0.01)
    async with RemoteFxSocket(nats=nats_url) as fx, fx.events(account=account) as events:
        later = await orders.create("EURUSD", "BUY", 0.01)
        assert await next_order(events) == later.id
