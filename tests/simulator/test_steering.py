"""Steering handles of ``Simulator`` that wait or read a clock, over a real 127.0.0.1 socket.

The client side is plain aiohttp (the contract suite's helpers), never our client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest

from fxsocket_async.simulator import Simulator
from tests.contract.helpers import (
    Api,
    config,
    request_frame,
    roundtrip,
    send,
    stream,
    subscribe,
)

pytestmark = pytest.mark.anyio

# Every wait below is bounded well inside pytest-timeout's 60 s.
BOUND = 10.0


@pytest.fixture
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    async with Simulator(config()) as simulator:
        yield simulator


@pytest.fixture
async def account_id(http: aiohttp.ClientSession, sim: Simulator) -> str:
    account = await Api(http, sim).link_connected()
    return str(account["id"])


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def waiting(sim: Simulator, expected: Any, done: list[bool]) -> None:
    await sim.wait_for_subscriptions(expected)
    done.append(True)


# ------------------------------------------------------- wait_for_subscriptions


async def test_wait_returns_at_once_when_already_equal(sim: Simulator) -> None:
    with anyio.fail_after(BOUND):
        await sim.wait_for_subscriptions([])


async def test_wait_blocks_until_a_subscribe_is_processed(
    http: aiohttp.ClientSession, sim: Simulator, account_id: str
) -> None:
    expected = [(account_id, "quotes", ("EURUSD", "XAUUSD"))]
    done: list[bool] = []
    with anyio.fail_after(BOUND):
        async with stream(http, sim) as ws:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(waiting, sim, expected, done)
                await roundtrip(ws)
                await anyio.wait_all_tasks_blocked()
                assert done == []
                # No waiting for the acknowledgement: the wait alone must see it.
                await send(
                    ws,
                    {
                        "action": "subscribe",
                        "id": 1,
                        "channel": "quotes",
                        "account_id": account_id,
                        "symbols": ["XAUUSD", "EURUSD"],
                    },
                )
            assert done == [True]
            assert sim.subscriptions() == expected


async def test_wait_ignores_the_order_of_tuples_and_symbols(
    http: aiohttp.ClientSession, sim: Simulator, account_id: str
) -> None:
    with anyio.fail_after(BOUND):
        async with stream(http, sim) as ws:
            await subscribe(ws, "quotes", account_id, ["EURUSD", "GBPUSD"])
            await subscribe(ws, "account", account_id)
            await sim.wait_for_subscriptions(
                [(account_id, "quotes", ("GBPUSD", "EURUSD")), (account_id, "account", ())]
            )


async def test_wait_with_a_predicate(
    http: aiohttp.ClientSession, sim: Simulator, account_id: str
) -> None:
    seen: list[list[tuple[str, str, tuple[str, ...]]]] = []

    def has_orders(subs: list[tuple[str, str, tuple[str, ...]]]) -> bool:
        seen.append(subs)
        return any(channel == "orders" for _, channel, _ in subs)

    with anyio.fail_after(BOUND):
        async with stream(http, sim) as ws, anyio.create_task_group() as tasks:
            tasks.start_soon(sim.wait_for_subscriptions, has_orders)
            await subscribe(ws, "account", account_id)
            await subscribe(ws, "orders", account_id)
    assert seen[0] == []
    assert (account_id, "orders", ()) in seen[-1]


async def test_wait_sees_an_unsubscribe(
    http: aiohttp.ClientSession, sim: Simulator, account_id: str
) -> None:
    with anyio.fail_after(BOUND):
        async with stream(http, sim) as ws:
            await subscribe(ws, "quotes", account_id, ["EURUSD", "GBPUSD"])
            await sim.wait_for_subscriptions([(account_id, "quotes", ("EURUSD", "GBPUSD"))])
            await send(
                ws,
                {
                    "action": "unsubscribe",
                    "id": 2,
                    "channel": "quotes",
                    "account_id": account_id,
                    "symbols": ["GBPUSD"],
                },
            )
            await sim.wait_for_subscriptions([(account_id, "quotes", ("EURUSD",))])


async def test_wait_sees_a_connection_go_away(
    http: aiohttp.ClientSession, sim: Simulator, account_id: str
) -> None:
    with anyio.fail_after(BOUND):
        async with stream(http, sim) as ws:
            await subscribe(ws, "orders", account_id)
        await sim.wait_for_subscriptions([])
        assert sim.subscriptions() == []


async def test_a_refused_subscribe_changes_nothing(
    http: aiohttp.ClientSession, sim: Simulator, account_id: str
) -> None:
    with anyio.fail_after(BOUND):
        async with stream(http, sim) as ws:
            refused = await request_frame(
                ws, "subscribe", channel="quotes", account_id=account_id, symbols=["NOPE"]
            )
            assert refused["type"] == "error"
            await sim.wait_for_subscriptions([])


async def test_wait_times_out_with_the_subscriptions_in_the_message(
    http: aiohttp.ClientSession, sim: Simulator, account_id: str
) -> None:
    with anyio.fail_after(BOUND):
        async with stream(http, sim) as ws:
            await subscribe(ws, "account", account_id)
            with pytest.raises(TimeoutError) as caught:
                await sim.wait_for_subscriptions([(account_id, "orders", ())], timeout=0.05)
    message = str(caught.value)
    assert f"({account_id!r}, 'account', ())" in message
    assert f"({account_id!r}, 'orders', ())" in message


async def test_a_predicate_that_never_holds_times_out(sim: Simulator) -> None:
    with anyio.fail_after(BOUND), pytest.raises(TimeoutError, match="predicate"):
        await sim.wait_for_subscriptions(lambda subs: False, timeout=0.05)


# --------------------------------------------------------------- injected clock


async def test_refuse_handshakes_for_seconds_runs_on_the_injected_clock(
    http: aiohttp.ClientSession,
) -> None:
    clock = FakeClock()
    with anyio.fail_after(BOUND):
        async with Simulator(config(), monotonic=clock) as sim:
            sim.faults.refuse_handshakes(status=503, for_seconds=30)
            clock.now += 29.9
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                async with stream(http, sim):
                    pass
            assert caught.value.status == 503
            clock.now += 0.1
            async with stream(http, sim) as ws:
                await roundtrip(ws)
            assert sim.stats.ws_refused == 1


# ------------------------------------------------------------------ link_account


async def test_link_account_links_a_connected_account_for_the_first_keys_owner(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    account = sim.link_account("Sim-Demo", 424242, nickname="bot")
    assert (account.status, account.nickname, account.login) == ("connected", "bot", 424242)
    listed = await Api(http, sim).get("/v1/accounts")  # the first key's owner sees it
    assert [(a["id"], a["status"]) for a in listed.body] == [(account.id, "connected")]
    quote = await Api(http, sim).get(f"/v1/accounts/{account.id}/quotes/EURUSD")
    assert quote.status == 200, quote


async def test_link_account_can_leave_the_terminal_provisioning(sim: Simulator) -> None:
    account = sim.link_account("Sim-Demo", 424243, connected=False)
    assert account.status == "connecting"
    sim.complete_provisioning(account.id)
    assert [a.status for a in sim.accounts()] == ["connected"]


async def test_link_account_on_a_broken_server_fails_provisioning(sim: Simulator) -> None:
    account = sim.link_account("Sim-Broken", 424244)
    assert account.status == "error"
    assert account.error


async def test_link_account_refusals_are_value_errors_with_the_wire_code(sim: Simulator) -> None:
    sim.link_account("Sim-Demo", 424245)
    with pytest.raises(ValueError, match=r"\[409 already_linked\]"):
        sim.link_account("Sim-Demo", 424245)
    with pytest.raises(ValueError, match=r"\[400 broker_rejected\]"):
        sim.link_account("Sim-Demo", 424246, password="invalid")
    assert sim.link_account("Sim-Demo", 424247, owner="other").id not in {
        a.id for a in sim.accounts()
    }
