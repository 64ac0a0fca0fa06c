"""Events through the bridge: one JetStream message per event, with a stable id, and
what happened while the bridge was down is published when it comes back."""

from __future__ import annotations

import anyio
import pytest
from nats.aio.client import Client as NatsClient

from fxsocket_async.bridge._wire import event_id
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import OrderClosed, OrderOpened, StreamGap
from tests.helpers.poll import poll

from .conftest import WAIT, bridge_for, link, read_events, session

pytestmark = pytest.mark.anyio


def order_kinds(events: list[tuple[str, object]]) -> list[tuple[str, str]]:
    return [
        (type(e).__name__, e.data.id)
        for _, e in events
        if hasattr(e, "data") and hasattr(e.data, "id")
    ]


async def test_live_order_events_are_published_with_their_ids(
    sim: Simulator, nats_url: str, nc: NatsClient
) -> None:
    with anyio.fail_after(WAIT * 2):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            async with bridge_for(fx, nats_url, [account.id]):
                order = await fx.account(account.id).orders.create("EURUSD", "BUY", 0.1)
                await fx.account(account.id).orders.close(order.id)

                async def both() -> list[tuple[str, object]]:
                    got = await read_events(nc, account.id)
                    kinds = [k for k, _ in order_kinds(got)]
                    return got if "OrderClosed" in kinds else []

                got = await poll(both, timeout=WAIT, what="the close on the events stream")
    orders = [(mid, e) for mid, e in got if isinstance(e, OrderOpened | OrderClosed)]
    assert [type(e) for _, e in orders] == [OrderOpened, OrderClosed]
    for mid, event in orders:
        assert mid == event_id(account.id, event)
        assert mid.startswith(f"{account.id}:order_")
        assert not event.recovered


async def test_events_while_the_bridge_was_down_are_published_after_restart(
    sim: Simulator, nats_url: str, nc: NatsClient
) -> None:
    with anyio.fail_after(WAIT * 3):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            orders = fx.account(account.id).orders
            first = await orders.create("EURUSD", "BUY", 0.1)
            async with bridge_for(fx, nats_url, [account.id]):
                await orders.modify(first.id, sl=0.5)
                await poll(
                    lambda: _has(nc, account.id, "OrderModified"), timeout=WAIT,
                    what="the live modify",
                )  # fmt: skip
            # The bridge is down: these happen unseen by it.
            await orders.close(first.id)
            second = await orders.create("GBPUSD", "SELL", 0.2)
            async with bridge_for(fx, nats_url, [account.id]):
                got = await read_events(nc, account.id)
    ids = [mid for mid, _ in got]
    assert len(ids) == len(set(ids)), "an event was published twice"
    gaps = [e for _, e in got if isinstance(e, StreamGap)]
    assert gaps
    assert gaps[-1].reason == "bridge_restart"
    recovered = [
        (type(e).__name__, e.data.id)
        for _, e in got
        if getattr(e, "recovered", False) and hasattr(e.data, "id")
    ]
    assert ("OrderClosed", first.id) in recovered
    assert ("OrderOpened", second.id) in recovered
    # The gap comes before what it explains.
    kinds = [type(e).__name__ for _, e in got]
    assert kinds.index("StreamGap") < max(
        i for i, (_, e) in enumerate(got) if getattr(e, "recovered", False)
    )


async def _has(nc: NatsClient, account: str, kind: str) -> bool:
    return any(type(e).__name__ == kind for _, e in await read_events(nc, account))


async def test_a_recovered_event_already_published_live_is_deduplicated(
    sim: Simulator, nats_url: str, nc: NatsClient
) -> None:
    with anyio.fail_after(WAIT * 3):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            orders = fx.account(account.id).orders
            async with bridge_for(fx, nats_url, [account.id]) as bridge:
                kv = await nc.jetstream().key_value(bridge.wire.bridge_bucket)
                before = (await kv.get(bridge.wire.state_key(account.id))).value
                order = await orders.create("EURUSD", "BUY", 0.1)
                await poll(
                    lambda: _has(nc, account.id, "OrderOpened"), timeout=WAIT, what="the live open"
                )
            # A crash between publishing and saving: the saved state predates the order.
            await kv.put(bridge.wire.state_key(account.id), before or b"")
            async with bridge_for(fx, nats_url, [account.id]) as again:
                got = await read_events(nc, account.id)
                duplicates = again.metrics.events_duplicate.labels(account.id)._value.get()
    opened = [e for _, e in got if isinstance(e, OrderOpened) and e.data.id == order.id]
    assert len(opened) == 1
    assert not opened[0].recovered
    assert duplicates >= 1  # the recovered copy was offered and refused by JetStream
