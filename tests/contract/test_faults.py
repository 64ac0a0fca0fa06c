"""Fault injection: dropped connections, mute, raw frames, failing requests, refusals."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from fxsocket_async.types import OrderOpened
from tests.helpers.poll import poll

from .helpers import (
    Api,
    acc,
    assert_error,
    of_type,
    request_frame,
    roundtrip,
    send,
    set_price,
    silence,
    steer,
    stream,
    subscribe,
    wait_frame,
)

pytestmark = pytest.mark.anyio


async def test_drop_connections_ends_the_stream_without_a_close_frame(http, sim) -> None:
    async with stream(http, sim) as ws:
        await roundtrip(ws)
        await steer(sim.faults.drop_connections())
        async with asyncio.timeout(5):
            msg = await ws.receive()
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR), msg
        assert ws.close_code != 1000


async def test_drop_connections_still_allows_reconnecting(http, sim) -> None:
    async with stream(http, sim) as ws:
        await roundtrip(ws)
        await steer(sim.faults.drop_connections())
    async with stream(http, sim) as ws:
        await roundtrip(ws)


async def test_wait_for_ws_connections_counts_open_connections(http, sim) -> None:
    async with stream(http, sim), stream(http, sim):
        await steer(sim.wait_for_ws_connections(2, timeout=5))


async def test_mute_stops_quotes_but_pings_are_answered(http, sim, account_id: str) -> None:
    async with stream(http, sim) as ws:
        await subscribe(ws, "quotes", account_id, ["EURUSD"])
        await steer(sim.faults.mute())
        await set_price(sim, "EURUSD", 1.2)
        before_pong: list[dict] = []
        pong = await request_frame(ws, "ping", seen=before_pong)
        assert pong["type"] == "pong"
        assert before_pong == []
        assert await silence(ws, 0.3) == []


async def test_unmute_resumes_quotes(http, sim, account_id: str) -> None:
    async with stream(http, sim) as ws:
        await subscribe(ws, "quotes", account_id, ["EURUSD"])
        await steer(sim.faults.mute())
        await set_price(sim, "EURUSD", 1.2)
        await steer(sim.faults.unmute())
        await set_price(sim, "EURUSD", 1.3)
        quote = await wait_frame(ws, of_type("quote"))
        assert quote["data"]["bid"] == pytest.approx(1.3)


async def test_mute_without_pings_sends_nothing(http, sim) -> None:
    async with stream(http, sim) as ws:
        await roundtrip(ws)
        await steer(sim.faults.mute(answer_pings=False))
        await send(ws, {"action": "ping", "id": 5})
        assert await silence(ws, 0.5) == []


async def test_mute_without_pings_answers_no_protocol_ping(http, sim) -> None:
    async with stream(http, sim, autoping=False) as ws:
        await ws.ping(b"before")
        async with asyncio.timeout(5):
            msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.PONG
        await steer(sim.faults.mute(answer_pings=False))
        await ws.ping(b"after")
        assert await silence(ws, 0.5) == []


async def test_send_raw_arrives_verbatim(http, sim) -> None:
    async with stream(http, sim) as ws:
        await roundtrip(ws)
        await steer(sim.faults.send_raw("{not json"))
        async with asyncio.timeout(5):
            msg = await ws.receive()
    assert msg.type == aiohttp.WSMsgType.TEXT
    assert msg.data == "{not json"


async def test_send_raw_goes_to_every_connection(http, sim) -> None:
    async with stream(http, sim) as first, stream(http, sim) as second:
        await roundtrip(first)
        await roundtrip(second)
        await steer(sim.faults.send_raw('{"type": "from_the_future"}'))
        for ws in (first, second):
            frame = await wait_frame(ws, lambda f: True)
            assert frame == {"type": "from_the_future"}


async def test_fail_next_fails_exactly_n_requests(api: Api, account_id: str) -> None:
    await steer(api.sim.faults.fail_next(2, status=500))
    assert_error(await api.get(acc(account_id, "account")), 500, "internal_error")
    assert_error(await api.get("/v1/accounts"), 500, "internal_error")
    assert (await api.get(acc(account_id, "account"))).status == 200


async def test_fail_next_with_a_custom_error_and_message(api: Api, account_id: str) -> None:
    await steer(
        api.sim.faults.fail_next(1, status=503, error="terminal_not_ready", message="restarting")
    )
    reply = await api.get(acc(account_id, "positions"))
    assert_error(reply, 503, "terminal_not_ready")
    assert reply.body["message"] == "restarting"


async def test_fail_next_rate_limited_carries_retry_after(api: Api, account_id: str) -> None:
    await steer(api.sim.faults.fail_next(1, status=429, error="rate_limited", retry_after=3))
    reply = await api.get(acc(account_id, "positions"))
    assert_error(reply, 429, "rate_limited")
    assert reply.headers.get("Retry-After") == "3"


async def test_failed_order_trades_nothing(api: Api, account_id: str) -> None:
    await steer(api.sim.faults.fail_next(1, status=500))
    reply = await api.order(account_id, symbol="EURUSD", type="BUY", volume=0.1)
    assert_error(reply, 500)
    assert await api.positions(account_id) == []


async def test_drop_after_next_acts_then_breaks_the_connection(api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    await steer(api.sim.faults.drop_after_next())
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.order(account_id, symbol="EURUSD", type="BUY", volume=0.1)
    # The server placed the order although the client never saw a reply.
    (position,) = await api.positions(account_id)
    assert position["volume"] == pytest.approx(0.1)
    opened = [e for e in api.sim.ledger(account_id) if isinstance(e, OrderOpened)]
    assert [e.data.id for e in opened] == [position["id"]]
    assert (await api.get(acc(account_id, "account"))).status == 200  # one request only


async def test_drop_after_next_drops_exactly_count_replies(api: Api, account_id: str) -> None:
    await steer(api.sim.faults.drop_after_next(2))
    for _ in range(2):
        with pytest.raises(aiohttp.ClientConnectionError):
            await api.order(account_id, symbol="EURUSD", type="SELL", volume=0.1)
    await api.sell(account_id, volume=0.1)
    assert len(await api.positions(account_id)) == 3


async def test_aiohttp_resends_a_delete_whose_reply_was_dropped(api: Api, account_id: str) -> None:
    # The case the fault exists for: aiohttp re-sends an idempotent request
    # once when the connection breaks, so a close carried out by the first
    # send is answered 404 by the second, and the caller never sees the first.
    order = await api.buy(account_id, volume=0.1)
    before = api.sim.stats.routes["DELETE /v1/accounts/{account_id}/orders/{order_id}"]
    await steer(api.sim.faults.drop_after_next())
    reply = await api.delete(acc(account_id, f"orders/{order['id']}"))
    assert_error(reply, 404, "order_not_found")
    after = api.sim.stats.routes["DELETE /v1/accounts/{account_id}/orders/{order_id}"]
    assert after - before == 2
    history = await api.history(account_id)
    assert [(t["id"], t["status"]) for t in history["trades"]] == [(order["id"], "closed")]


async def test_drop_after_next_is_undone_by_clear(api: Api, account_id: str) -> None:
    await steer(api.sim.faults.drop_after_next(3))
    await steer(api.sim.faults.clear())
    assert (await api.get(acc(account_id, "positions"))).status == 200


async def test_drop_after_next_needs_a_count_of_at_least_one(sim) -> None:
    for count in (0, -1):
        with pytest.raises(ValueError, match="count"):
            sim.faults.drop_after_next(count)


async def test_latency_keeps_replies_correct(api: Api, account_id: str) -> None:
    api.sim.faults.latency = 0.05
    try:
        await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
        order = await api.buy(account_id, volume=0.1)
        assert order["price"] == pytest.approx(1.10010, abs=1e-9)
        assert [p["id"] for p in await api.positions(account_id)] == [order["id"]]
    finally:
        api.sim.faults.latency = 0


async def test_refused_handshake_is_503_until_accepted(http, sim) -> None:
    await steer(sim.faults.refuse_handshakes())
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        async with stream(http, sim):
            pass
    assert caught.value.status == 503
    await steer(sim.faults.accept_handshakes())
    async with stream(http, sim) as ws:
        await roundtrip(ws)


async def test_refuse_handshakes_with_another_status(http, sim) -> None:
    await steer(sim.faults.refuse_handshakes(status=429))
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        async with stream(http, sim):
            pass
    assert caught.value.status == 429


async def test_refuse_handshakes_keeps_open_connections(http, sim) -> None:
    async with stream(http, sim) as ws:
        await roundtrip(ws)
        await steer(sim.faults.refuse_handshakes())
        await roundtrip(ws)


async def test_refuse_handshakes_for_a_while(http, sim) -> None:
    await steer(sim.faults.refuse_handshakes(for_seconds=0.2))
    with pytest.raises(aiohttp.WSServerHandshakeError):
        async with stream(http, sim):
            pass
    # Retrying a refused handshake after a pause is what a client does.
    statuses: list[int] = []

    async def handshake_accepted() -> bool:
        try:
            async with stream(http, sim) as ws:
                await roundtrip(ws)
        except aiohttp.WSServerHandshakeError as exc:
            statuses.append(exc.status)
            return False
        return True

    await poll(handshake_accepted, timeout=5, interval=0.05, what="a handshake accepted again")
    assert set(statuses) <= {503}


async def test_stats_count_requests_and_connections(http, api: Api) -> None:
    sim = api.sim
    before = sim.stats.requests
    await api.get("/v1/accounts")
    assert sim.stats.requests == before + 1
    async with stream(http, sim) as ws:
        await roundtrip(ws)
        assert sim.stats.ws_connections == 1
        assert sim.stats.ws_handshakes == 1
    await steer(sim.faults.refuse_handshakes())
    with pytest.raises(aiohttp.WSServerHandshakeError):
        async with stream(http, sim):
            pass
    assert sim.stats.ws_refused == 1


async def test_slow_consumer_is_closed_with_1013(http, sim, account_id: str) -> None:
    async with stream(http, sim) as ws:
        await subscribe(ws, "quotes", account_id, ["EURUSD"])
        # 15,000 quotes queued at once, more than the 10,000-frame outgoing buffer.
        for i in range(15_000):
            await set_price(sim, "EURUSD", 1.1 + (i % 2) * 0.001)
        async with asyncio.timeout(10):
            for _ in range(20_000):
                msg = await ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
    assert msg.type == aiohttp.WSMsgType.CLOSE, msg
    assert msg.data == 1013
