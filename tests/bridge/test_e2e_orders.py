"""A remote order submission re-sent through a ``kill -9`` and restart of the bridge trades once.

The account's replies are slowed (``sim.faults.set_latency``), so the bridge
is killed while its upstream call is in flight: after it recorded the
submission as pending in ``<prefix>_orders``, before any reply came back.
The remote caller, in a process of its own, keeps re-sending the same
request (same idempotency key) until a new bridge answers it; the new bridge
finds the pending record and resolves it without trading twice.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import msgspec
import nats
import pytest
from nats.js.errors import KeyNotFoundError

from fxsocket_async.bridge._wire import Wire
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import OrderOpened
from tests.helpers.poll import poll
from tests.helpers.sim import FULL_KEY, make_client, sim_config

from .procs import WAIT, bridge, child, sim_env
from .procs import nats as nats_process

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

KEY = "e2e-order-through-a-bridge-restart"


def opened(sim: Simulator, account: str) -> list[str]:
    """The orders the simulator carried out for ``account``: its own ledger, not a reply."""
    return [e.data.id for e in sim.ledger(account) if isinstance(e, OrderOpened)]


async def recorded_pending(nc: nats.NATS, key: str) -> bool:
    kv = await nc.jetstream().key_value(Wire().orders_bucket)
    try:
        entry = await kv.get(Wire.order_key(key))
    except KeyNotFoundError:
        return False
    return bool(msgspec.json.decode(entry.value or b"{}").get("state") == "pending")


async def submit_through_a_restart(
    sim: Simulator,
    url: str,
    account: str,
    *,
    fault: Callable[[], None],
    kill_when: Any,
    retry_delay: float = 0.05,
) -> dict[str, Any]:
    """``orders.create`` from a process of its own, with ``fault()`` set on the simulator
    once the bridge is up; the bridge is killed once ``kill_when()`` and started again.
    Returns what the caller printed."""
    slow_retry = ("--retry-delay", str(retry_delay))
    env = sim_env(sim, FULL_KEY)
    args = ("--nats", url, "--account", account, "--key", KEY, "--timeout", "30")
    async with bridge(sim, FULL_KEY, url, account, *slow_retry) as first:
        await first.ready()
        fault()
        async with child("order", *args, env=env) as caller:
            # Only the simulator's books and the bridge's bucket say when: nothing to wait on.
            await poll(kill_when, timeout=WAIT, what="the moment to kill the bridge")
            first.kill()
            assert await first.exited() == -signal.SIGKILL
            sim.faults.clear()
            async with bridge(sim, FULL_KEY, url, account, name="bridge 2") as second:
                await second.ready()
                done = await caller.wait_for(
                    lambda _lines: caller.of("order") or caller.of("error"),
                    what="the order's reply",
                )
    assert done[0]["kind"] == "order", done
    assert done[0]["resends"] >= 1  # it did go through the restart
    return dict(done[0])


@pytest.mark.dialects("reference", "terminal")
async def test_an_order_in_flight_when_the_bridge_is_killed_trades_once() -> None:
    async with Simulator(sim_config()) as sim, nats_process() as server, make_client(sim) as fx:
        account = sim.link_account("Sim-Demo", 830001, connected=True).id
        nc = await nats.connect(server.url)
        try:
            # Slow replies: the bridge dies after recording the submission, before any reply.
            reply = await submit_through_a_restart(
                sim,
                server.url,
                account,
                fault=lambda: sim.faults.set_latency(1.5, account=account),
                kill_when=lambda: recorded_pending(nc, KEY),
            )
        finally:
            await nc.close()
        assert len(opened(sim, account)) == 1
        positions = await fx.account(account).positions()
        assert [p.id for p in positions] == [reply["id"]]


@pytest.mark.dialects("reference")
async def test_an_order_carried_out_whose_reply_died_with_the_bridge_trades_once() -> None:
    async with Simulator(sim_config()) as sim, nats_process() as server, make_client(sim) as fx:
        account = sim.link_account("Sim-Demo", 830002, connected=True).id
        # The server carries the order out and its reply is lost; the bridge's session would
        # re-send it (same key) only seconds later, and is killed first: the order exists
        # upstream while the bridge's record still says pending.
        reply = await submit_through_a_restart(
            sim,
            server.url,
            account,
            fault=lambda: sim.faults.drop_after_next(account=account),
            kill_when=lambda: opened(sim, account),
            retry_delay=5.0,
        )
        assert len(opened(sim, account)) == 1
        positions = await fx.account(account).positions()
        assert [p.id for p in positions] == [reply["id"]]
