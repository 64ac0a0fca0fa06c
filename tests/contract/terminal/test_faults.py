"""Every fault works per account on terminal sockets and routes, and everywhere without one."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator

from ..helpers import Api, acc, assert_error, config, set_price, steer
from ..helpers import roundtrip as reference_roundtrip
from ..helpers import stream as reference_stream
from .helpers import (
    Terminal,
    assert_terminal_error,
    connected_account,
    next_frame,
    roundtrip,
    send,
    silence,
    socket,
    subscribed,
    with_key,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def other(api: Api) -> dict[str, Any]:
    """A second connected account of the same owner."""
    return await connected_account(api)


async def closed_without_a_close_frame(ws: aiohttp.ClientWebSocketResponse) -> None:
    async with asyncio.timeout(5):
        msg = await ws.receive()
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR), msg
    assert ws.close_code != 1000


# ------------------------------------------------------------------ sockets


async def test_drop_connections_of_one_account(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], other: dict[str, Any]
) -> None:
    async with (
        socket(http, account) as mine,
        socket(http, other) as theirs,
        reference_stream(http, sim) as shared,
    ):
        await roundtrip(mine)
        await steer(sim.faults.drop_connections(account=account["id"]))
        await closed_without_a_close_frame(mine)
        assert await roundtrip(theirs) == []
        await reference_roundtrip(shared)
    async with socket(http, account) as again:  # it may reconnect
        assert await roundtrip(again) == []


async def test_drop_connections_without_an_account_drops_terminal_sockets_too(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    async with socket(http, account) as ws, reference_stream(http, sim) as shared:
        await roundtrip(ws)
        await reference_roundtrip(shared)
        await steer(sim.faults.drop_connections())
        await closed_without_a_close_frame(ws)
        await closed_without_a_close_frame(shared)


async def test_mute_one_account(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], other: dict[str, Any]
) -> None:
    async with socket(http, account) as mine, socket(http, other) as theirs:
        for ws in (mine, theirs):
            await subscribed(ws, "prices", symbol="EURUSD")
        await steer(sim.faults.mute(account=account["id"]))
        await set_price(sim, "EURUSD", 1.2)
        assert (await next_frame(theirs))["type"] == "tick"
        seen: list[dict[str, Any]] = []
        await roundtrip(mine, seen=seen)  # answers still come
        assert seen == []
        await steer(sim.faults.unmute(account=account["id"]))
        await set_price(sim, "EURUSD", 1.3)
        assert (await next_frame(mine))["data"]["bid"] == 1.3


async def test_mute_without_pings_sends_nothing_at_all(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    async with asyncio.timeout(10):
        ws = await http.ws_connect(with_key(account["ws_url"], "full-key"), autoping=False)
    try:
        await roundtrip(ws)
        await steer(sim.faults.mute(answer_pings=False, account=account["id"]))
        await ws.ping(b"are you there")
        await send(ws, {"action": "list"})
        assert await silence(ws, 0.3) == []
        await steer(sim.faults.unmute())
        assert await roundtrip(ws) == []
    finally:
        await ws.close()


async def test_global_mute_mutes_terminal_sockets(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    async with socket(http, account) as ws:
        await subscribed(ws, "prices", symbol="EURUSD")
        await steer(sim.faults.mute())
        await set_price(sim, "EURUSD", 1.2)
        assert await roundtrip(ws) == [{"topic": "prices", "symbol": "EURUSD"}]
        assert await silence(ws, 0.2) == []
        await steer(sim.faults.clear())
        await set_price(sim, "EURUSD", 1.3)
        assert (await next_frame(ws))["type"] == "tick"


async def test_send_raw_to_one_account(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], other: dict[str, Any]
) -> None:
    async with socket(http, account) as mine, socket(http, other) as theirs:
        await roundtrip(mine)
        await roundtrip(theirs)
        await steer(sim.faults.send_raw("{not json", account=account["id"]))
        async with asyncio.timeout(5):
            raw = await mine.receive()
        assert raw.data == "{not json"
        seen: list[dict[str, Any]] = []
        await roundtrip(theirs, seen=seen)
        assert seen == []


async def test_refuse_one_accounts_handshakes(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], other: dict[str, Any]
) -> None:
    await steer(sim.faults.refuse_handshakes(status=503, account=account["id"]))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(with_key(account["ws_url"], "full-key"))
    assert refused.value.status == 503
    async with socket(http, other) as ws, reference_stream(http, sim) as shared:
        await roundtrip(ws)
        await reference_roundtrip(shared)
    assert sim.stats.terminal_refused == 1
    await steer(sim.faults.accept_handshakes(account=account["id"]))
    async with socket(http, account) as ws:
        await roundtrip(ws)


async def test_refusing_every_handshake_covers_terminals(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    await steer(sim.faults.refuse_handshakes(status=502))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(with_key(account["ws_url"], "full-key"))
    assert refused.value.status == 502
    await steer(sim.faults.accept_handshakes())
    async with socket(http, account) as ws:
        await roundtrip(ws)


async def test_timed_refusals_run_out_on_the_simulators_clock(
    http: aiohttp.ClientSession,
) -> None:
    now = [1000.0]
    async with Simulator(config(terminal_interval=None), monotonic=lambda: now[0]) as sim:
        account = await connected_account(Api(http, sim))
        sim.faults.refuse_handshakes(for_seconds=5, account=account["id"])
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(with_key(account["ws_url"], "full-key"))
        now[0] += 5
        async with socket(http, account) as ws:
            await roundtrip(ws)


async def test_a_stalled_socket_drains_when_resumed(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], other: dict[str, Any]
) -> None:
    async with socket(http, account) as mine, socket(http, other) as theirs:
        await subscribed(mine, "prices", symbol="EURUSD")
        await subscribed(theirs, "prices", symbol="EURUSD")
        await steer(sim.faults.stall_writes(account=account["id"]))
        await set_price(sim, "EURUSD", 1.2)
        assert (await next_frame(theirs))["type"] == "tick"
        assert await silence(mine, 0.2) == []
        await steer(sim.faults.resume_writes(account=account["id"]))
        assert (await next_frame(mine))["data"]["bid"] == 1.2


# --------------------------------------------------------------------- REST


async def test_fail_next_for_one_account(
    http: aiohttp.ClientSession,
    sim: Simulator,
    api: Api,
    account: dict[str, Any],
    other: dict[str, Any],
) -> None:
    mine, theirs = Terminal(http, account), Terminal(http, other)
    await steer(
        sim.faults.fail_next(
            2, status=504, error="MRPC_TIMEOUT", message="timed out", account=account["id"]
        )
    )
    assert (await theirs.get("/AccountSummary")).status == 200
    assert (await api.get("/v1/accounts")).status == 200  # management names no account
    reply = await mine.get("/AccountSummary")
    assert reply.body == {"error": "MRPC_TIMEOUT", "detail": "timed out"}
    assert reply.status == 504
    # The account's reference routes are its routes too (their own error body).
    assert_error(await api.get(acc(account["id"], "account")), 504, "MRPC_TIMEOUT")
    assert (await mine.get("/AccountSummary")).status == 200


async def test_fail_next_after_the_order_was_placed(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    term = Terminal(http, account)
    await steer(sim.faults.fail_next(1, after=True, account=account["id"], retry_after=2))
    reply = await term.post("/OrderSend", {"symbol": "EURUSD", "operation": "Buy", "volume": 0.1})
    assert_terminal_error(reply, 500, "internal_error")
    assert reply.headers["Retry-After"] == "2"
    assert len(await term.opened()) == 1


async def test_drop_after_next_for_one_account(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], other: dict[str, Any]
) -> None:
    term = Terminal(http, account)
    await steer(sim.faults.drop_after_next(1, account=account["id"]))
    assert (await Terminal(http, other).get("/AccountSummary")).status == 200
    with pytest.raises(aiohttp.ClientError):
        await term.post("/OrderSend", {"symbol": "EURUSD", "operation": "Buy", "volume": 0.1})
    assert len(await term.opened()) == 1  # carried out, the reply lost


async def test_latency_for_one_account(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], other: dict[str, Any]
) -> None:
    await steer(sim.faults.set_latency(0.5, account=account["id"]))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await Terminal(http, account).get("/AccountSummary")).status == 200
    assert loop.time() - started >= 0.5
    assert (await Terminal(http, other).get("/AccountSummary")).status == 200
    await steer(sim.faults.clear())
    assert sim.faults.latency_for(account["id"]) == 0.0


async def test_global_failures_reach_terminal_routes(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    term = Terminal(http, account)
    await steer(sim.faults.fail_next(1, status=503, error="terminal_not_ready"))
    assert_terminal_error(await term.get("/getQuote?symbol=EURUSD"), 503, "terminal_not_ready")
    await steer(sim.faults.fail_next(1, account=account["id"]))
    await steer(sim.faults.clear())
    assert (await term.get("/getQuote?symbol=EURUSD")).status == 200
