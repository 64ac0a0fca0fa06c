"""Order events through the bridge to remote consumers, each in a process of its own.

The simulator runs here (so the test can drop its stream and trade on it);
nats-server, the bridge and two durable consumers run in their own
processes. Every order event must reach both consumers exactly once and in
order across (a) ten upstream disconnects, (c) a consumer restart that
resumes from its durable position and (b) a ``kill -9`` and restart of the
bridge, with trades made while it was down.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from fxsocket_async.bridge import RemoteFxSocket
from fxsocket_async.simulator import Simulator
from tests.helpers.poll import poll
from tests.helpers.sim import FULL_KEY, make_client, sim_config

from .procs import WAIT, Child, bridge, child, nats, sim_env

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

ORDER_EVENTS = frozenset({"order_opened", "order_closed", "order_modified", "order_cancelled"})


def order_events(consumer: Child) -> list[dict[str, Any]]:
    return [line for line in consumer.of("event") if line["type"] in ORDER_EVENTS]


def has(consumer: Child, msg_ids: set[str]) -> Any:
    return lambda _lines: msg_ids <= {e["msg_id"] for e in order_events(consumer)}


def check_exactly_once_in_order(events: list[dict[str, Any]], expected: set[str]) -> None:
    ids = [e["msg_id"] for e in events]
    assert len(ids) == len(set(ids)), f"duplicates: {sorted(i for i in ids if ids.count(i) > 1)}"
    assert set(ids) == expected
    opened: set[str] = set()
    for event in events:  # an order's life in its order: opened before closed
        if event["type"] == "order_opened":
            opened.add(event["id"])
        else:
            assert event["id"] in opened, f"{event['type']} of {event['id']} before it opened"


class Book:
    """Trades on the simulator, made through a client of the test's own; what they emit."""

    def __init__(self, orders: Any, account: str) -> None:
        self.orders = orders
        self.account = account
        self.expected: set[str] = set()
        self.open: list[str] = []

    async def trade(self, *, close: bool) -> set[str]:
        reply = await self.orders.create("EURUSD", "BUY", 0.01)
        made = {f"{self.account}:order_opened:{reply.id}"}
        self.open.append(reply.id)
        if close:
            closing = self.open.pop(0)
            await self.orders.close(closing)
            made.add(f"{self.account}:order_closed:{closing}")
        self.expected |= made
        return made


@pytest.mark.dialects("reference", "terminal")
async def test_order_events_reach_two_consumers_once_in_order_through_faults() -> None:
    async with (
        Simulator(sim_config()) as sim,
        make_client(sim) as trader,
        nats() as server,
    ):
        account = sim.link_account("Sim-Demo", 810001, connected=True).id
        book = Book(trader.account(account).orders, account)
        async with bridge(sim, FULL_KEY, server.url, account) as first_bridge:
            await first_bridge.ready()
            await run_scenario(sim, server.url, book, first_bridge)


async def run_scenario(sim: Simulator, url: str, book: Book, first_bridge: Child) -> None:
    account = book.account
    args = ("--nats", url, "--account", account)
    env = sim_env(sim, FULL_KEY)
    async with child("events", *args, "--durable", "two", env=env, name="two") as two:
        await two.ready()
        async with child("events", *args, "--durable", "one", env=env, name="one") as one:
            await one.ready()
            # (a) Ten upstream disconnects, each with a trade while the bridge reconnects.
            for round_ in range(10):
                sim.faults.drop_connections()
                made = await book.trade(close=round_ % 2 == 1)
                await one.wait_for(has(one, made), what=f"round {round_}'s events")
            await two.wait_for(has(two, book.expected), what="every event of (a)")
            async with RemoteFxSocket(nats=url) as remote:

                async def reconnected() -> bool:
                    status = await remote.bridge_status(account)
                    return status is not None and status.reconnects >= 10

                # The bridge writes its status every monitor round: no event says when.
                await poll(reconnected, timeout=WAIT, what="the bridge's 10 reconnects")

            # (c) Consumer one leaves cleanly; trades go on; it comes back and resumes.
            assert await one.stop() == 0
            first_run = order_events(one)
        later: set[str] = set()
        for _ in range(3):
            later |= await book.trade(close=False)
        await two.wait_for(has(two, book.expected), what="the events made while one was away")
        async with child("events", *args, "--durable", "one", env=env, name="one again") as again:
            await again.ready()
            await again.wait_for(has(again, later), what="the events made while it was away")
            check_exactly_once_in_order(first_run + order_events(again), book.expected)

            # (b) kill -9 of the bridge; trades while it is down; a new bridge recovers.
            first_bridge.kill()
            assert await first_bridge.exited() == -signal.SIGKILL
            while_down = await book.trade(close=True) | await book.trade(close=False)
            async with bridge(sim, FULL_KEY, url, account, name="bridge 2") as second:
                await second.ready()
                for consumer in (again, two):
                    await consumer.wait_for(has(consumer, while_down), what="recovered events")
                after = await book.trade(close=True)
                for consumer in (again, two):
                    await consumer.wait_for(has(consumer, after), what="live events after it")
            recovered = [e for e in order_events(two) if e["msg_id"] in while_down]
            assert recovered
            assert all(e["recovered"] for e in recovered)
            resumed = first_run + order_events(again)
            check_exactly_once_in_order(resumed, book.expected)
            check_exactly_once_in_order(order_events(two), book.expected)
            # Both read one stream: the very same order, event for event.
            assert [e["msg_id"] for e in resumed] == [e["msg_id"] for e in order_events(two)]
