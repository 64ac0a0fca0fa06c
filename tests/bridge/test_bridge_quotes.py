"""Quotes through the bridge: batches per symbol with a sequence, and the newest in KV."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import nats.js.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from fxsocket_async.bridge import Bridge
from fxsocket_async.bridge._wire import EPOCH_HEADER, SEQ_HEADER, Wire, decode_quote, decode_quotes
from fxsocket_async.simulator import Simulator
from tests.helpers.poll import poll

from .conftest import WAIT, bridge_for, link, session

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def quotes_bridge(
    sim: Simulator, nats_url: str, nc: NatsClient, wire: Wire, **bridge_options: Any
) -> AsyncIterator[tuple[Bridge, str, asyncio.Queue[Msg]]]:
    """A live bridge for EURUSD and GBPUSD of a connected account, and a subscriber of
    our own on the account's quote subjects: (bridge, account id, what it hears)."""
    got: asyncio.Queue[Msg] = asyncio.Queue()
    async with session(sim) as fx:
        account = await link(fx, connected=True)
        sub = await nc.subscribe(wire.quotes_filter(account.id), cb=got.put)
        await nc.flush()
        symbols = ["EURUSD", "GBPUSD"]
        async with bridge_for(
            fx, nats_url, [account.id], symbols=symbols, **bridge_options
        ) as bridge:
            await sim.wait_for_subscriptions(
                lambda subs: any(s[1] == "quotes" for s in subs), timeout=WAIT
            )
            yield bridge, account.id, got
        await sub.unsubscribe()


async def test_quote_batches_and_the_newest_quote_per_symbol(
    sim: Simulator, nats_url: str, nc: NatsClient
) -> None:
    wire = Wire()
    with anyio.fail_after(WAIT * 2):
        async with quotes_bridge(sim, nats_url, nc, wire, max_batch=2) as (bridge, account, got):
            bids = [1.1001 + i / 10_000 for i in range(5)]
            for bid in bids:
                sim.set_price("EURUSD", bid)
            seen: list[float] = []
            seqs: list[int] = []
            while len(seen) < len(bids):
                msg = await got.get()
                assert wire.parse_quotes_subject(msg.subject) == (account, "EURUSD")
                batch = decode_quotes(msg.data)
                assert 1 <= len(batch) <= 2
                seen += [q.bid for q in batch]
                seqs.append(int((msg.headers or {})[SEQ_HEADER]))
                assert (msg.headers or {})[EPOCH_HEADER] == bridge.epoch
            assert seen == bids
            assert seqs == list(range(1, len(seqs) + 1))
            kv = await nc.jetstream().key_value(wire.latest_bucket)

            async def newest() -> bool:
                try:  # the bridge puts it at most every 50 ms: not there yet, maybe
                    entry = await kv.get(wire.latest_key(account, "EURUSD"))
                except nats.js.errors.NotFoundError:
                    return False
                return entry.value is not None and decode_quote(entry.value).bid == bids[-1]

            await poll(newest, timeout=WAIT, what="the newest EURUSD quote in KV")
    assert bridge.metrics.quotes_published.labels(account)._value.get() >= len(bids)


async def test_quote_batches_are_stored_and_a_refusing_stream_is_counted(
    sim: Simulator, nats_url: str, nc: NatsClient
) -> None:
    # Batches go out as plain publishes the quotes stream captures; the first batch
    # per subject (and one per ack interval) is acknowledged, so a stream that is
    # gone shows in publish_errors while live subscribers still get every batch.
    wire = Wire()
    js = nc.jetstream()
    with anyio.fail_after(WAIT * 2):
        bridged = quotes_bridge(sim, nats_url, nc, wire, max_batch=1, publish_timeout=0.2)
        async with bridged as (bridge, _, got):
            sim.set_price("EURUSD", 1.1001)
            sim.set_price("EURUSD", 1.1002)
            first = [decode_quotes((await got.get()).data)[0].bid for _ in range(2)]
            assert first == [1.1001, 1.1002]

            async def stored() -> int:
                return (await js.stream_info(wire.quotes_stream)).state.messages

            assert await poll(stored, timeout=WAIT, what="batches in the quotes stream") >= 2
            assert bridge.metrics.publish_errors.labels("quotes")._value.get() == 0
            await js.delete_stream(wire.quotes_stream)
            # GBPUSD's first batch is an acknowledged one: our subscriber hears it, no
            # stream answers, so its ack never comes and it counts at publish_timeout.
            sim.set_price("GBPUSD", 1.2701)
            msg = await got.get()
            assert decode_quotes(msg.data)[0].symbol == "GBPUSD"
            await poll(
                lambda: bridge.metrics.publish_errors.labels("quotes")._value.get() >= 1,
                timeout=WAIT, what="the refused batch counted",
            )  # fmt: skip
