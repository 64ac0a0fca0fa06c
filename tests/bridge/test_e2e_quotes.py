"""Quotes through the bridge to 20 remote consumers, and a late joiner.

The 20 consumers are 4 processes of 5 ``RemoteFxSocket`` quote subscriptions
each: 20 Python processes would spend most of this test starting up on two
cores, while 4 still put every consumer across a process boundary from the
bridge and NATS (each subscription is its own NATS subscription).
"""

from __future__ import annotations

from typing import Any

import pytest

from fxsocket_async.simulator import Simulator
from tests.helpers.sim import FULL_KEY, sim_config

from .procs import WAIT, Child, child, cli_bridge, nats, sim_env

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PROCESSES = 4
PER_PROCESS = 5
SYMBOLS = ("EURUSD", "GBPUSD")


def bids(consumer: Child, index: int, symbol: str) -> list[float]:
    return [
        line["bid"]
        for line in consumer.of("quote")
        if line["consumer"] == index and line["symbol"] == symbol
    ]


def got_all(consumer: Child, wanted: dict[str, list[float]]) -> Any:
    def check(_lines: list[dict[str, Any]]) -> bool:
        return all(
            bids(consumer, index, symbol)[-len(prices) :] == prices
            for index in range(PER_PROCESS)
            for symbol, prices in wanted.items()
        )

    return check


async def test_quotes_reach_20_remote_consumers_and_a_late_joiner_gets_the_newest() -> None:
    async with Simulator(sim_config()) as sim, nats() as server:
        account = sim.link_account("Sim-Demo", 820001, connected=True).id
        env = sim_env(sim, FULL_KEY)
        args = ("--nats", server.url, "--account", account, "--symbols", ",".join(SYMBOLS))
        # The real command this time (the other e2e tests need shorter reconnect delays).
        async with cli_bridge(sim, FULL_KEY, server.url, account, "--symbols", ",".join(SYMBOLS)):
            await sim.wait_for_subscriptions(
                lambda subs: any(s[:2] == (account, "quotes") for s in subs), timeout=WAIT
            )
            consumers = [
                child("quotes", *args, "--consumers", str(PER_PROCESS), env=env, name=f"q{n}")
                for n in range(PROCESSES)
            ]
            running = [await c.__aenter__() for c in consumers]
            try:
                for consumer in running:
                    await consumer.ready()
                wanted: dict[str, list[float]] = {symbol: [] for symbol in SYMBOLS}
                for step in range(1, 6):
                    for n, symbol in enumerate(SYMBOLS):
                        bid = round(1.1 + n * 0.2 + step * 0.0001, 5)
                        sim.set_price(symbol, bid)
                        wanted[symbol].append(bid)
                # Every consumer, every quote of each symbol, in order (mode "all").
                for consumer in running:
                    await consumer.wait_for(got_all(consumer, wanted), what="every quote")
            finally:
                for consumer in reversed(consumers):
                    await consumer.__aexit__(None, None, None)
            for consumer in running:
                stats = consumer.of("stats")
                assert len(stats) == PER_PROCESS
                assert all(s["missed_batches"] == 0 and s["dropped"] == 0 for s in stats)

            # A late joiner, with the market still: the newest quote of each symbol at once.
            async with child("quotes", *args, env=env, name="late") as late:
                newest = {symbol: prices[-1] for symbol, prices in wanted.items()}
                await late.wait_for(
                    lambda _lines: {s: b[-1] for s in SYMBOLS if (b := bids(late, 0, s))} == newest,
                    what="the newest quote of each symbol",
                )
