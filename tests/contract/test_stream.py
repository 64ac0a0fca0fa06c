"""The WebSocket stream: subscriptions, quotes, order and account events, seq."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from fxsocket_async._core.events import (
    AccountStatusChanged,
    AccountUpdate,
    OrderClosed,
    OrderOpened,
    QuoteEvent,
)
from fxsocket_async._dialects.reference import decode_event
from fxsocket_async.simulator import Simulator

from .helpers import (
    OTHER,
    Api,
    acc,
    config,
    next_frame,
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

SEQ_TYPES = {
    "order_opened",
    "order_modified",
    "order_filled",
    "order_closed",
    "order_cancelled",
    "account",
    "account_status",
}


def tag(event: Any) -> str:
    return type(event).__struct_config__.tag


def frame_text(frame: dict[str, Any]) -> str:
    return json.dumps(frame)


# ----------------------------------------------------------------- subscriptions


async def test_ping_is_answered_with_pong_of_same_id(http, sim) -> None:
    async with stream(http, sim) as ws:
        await send(ws, {"action": "ping", "id": 4711})
        assert await next_frame(ws) == {"type": "pong", "id": 4711}


async def test_subscribe_quotes_is_acknowledged(http, sim, account_id: str) -> None:
    async with stream(http, sim) as ws:
        request = {
            "action": "subscribe",
            "id": 7,
            "channel": "quotes",
            "account_id": account_id,
            "symbols": ["EURUSD", "XAUUSD"],
        }
        await send(ws, request)
        ack = await wait_frame(ws, lambda f: f.get("id") == 7)
    assert ack["type"] == "subscribed"
    assert ack["channel"] == "quotes"
    assert ack["account_id"] == account_id
    assert ack["symbols"] == ["EURUSD", "XAUUSD"]


@pytest.mark.parametrize("channel", ["orders", "account"])
async def test_subscribe_other_channels_is_acknowledged(
    http, sim, account_id: str, channel: str
) -> None:
    async with stream(http, sim) as ws:
        ack = await subscribe(ws, channel, account_id)
    assert (ack["channel"], ack["account_id"]) == (channel, account_id)


async def test_quote_frame_follows_set_price(http, sim, account_id: str) -> None:
    async with stream(http, sim) as ws:
        await subscribe(ws, "quotes", account_id, ["EURUSD"])
        await set_price(sim, "EURUSD", 1.23450, 1.23460)
        frame = await wait_frame(
            ws, lambda f: f.get("type") == "quote" and f["data"]["bid"] == 1.2345
        )
    assert frame["account_id"] == account_id
    assert frame["data"]["symbol"] == "EURUSD"
    assert frame["data"]["ask"] == pytest.approx(1.2346, abs=1e-9)
    assert isinstance(frame["data"]["time"], str)
    event = decode_event(frame_text(frame))
    assert isinstance(event, QuoteEvent)


async def test_quotes_come_only_for_subscribed_symbols(http, sim, account_id: str) -> None:
    async with stream(http, sim) as ws:
        await subscribe(ws, "quotes", account_id, ["GBPUSD"])
        await set_price(sim, "EURUSD", 1.2)
        await set_price(sim, "GBPUSD", 1.3)
        first = await wait_frame(ws, of_type("quote"))
    assert first["data"]["symbol"] == "GBPUSD"


async def test_unsubscribe_stops_quotes(http, sim, account_id: str) -> None:
    async with stream(http, sim) as ws:
        await subscribe(ws, "quotes", account_id, ["EURUSD", "GBPUSD"])
        ack = await request_frame(
            ws, "unsubscribe", channel="quotes", account_id=account_id, symbols=["EURUSD"]
        )
        assert ack["type"] == "unsubscribed"
        assert (ack["channel"], ack["account_id"], ack["symbols"]) == (
            "quotes",
            account_id,
            ["EURUSD"],
        )
        await set_price(sim, "EURUSD", 1.2)
        await set_price(sim, "GBPUSD", 1.3)
        seen: list[dict[str, Any]] = []
        gbp = await wait_frame(
            ws, lambda f: f.get("type") == "quote" and f["data"]["symbol"] == "GBPUSD", seen=seen
        )
        assert gbp["data"]["bid"] == pytest.approx(1.3)
        await set_price(sim, "EURUSD", 1.21)
        await roundtrip(ws, seen)
        assert [f for f in seen if f.get("type") == "quote"] == []
        assert await silence(ws, 0.2) == []


async def test_unsubscribe_orders_stops_order_events(http, api: Api, account_id: str) -> None:
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        ack = await request_frame(ws, "unsubscribe", channel="orders", account_id=account_id)
        assert ack["type"] == "unsubscribed"
        await api.buy(account_id, volume=0.1)
        seen: list[dict[str, Any]] = []
        await roundtrip(ws, seen)
        assert seen == []
        assert await silence(ws, 0.3) == []


async def test_one_connection_carries_several_accounts(http, api: Api, account_id: str) -> None:
    second = (await api.link_connected())["id"]
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "quotes", account_id, ["EURUSD"])
        await subscribe(ws, "quotes", second, ["EURUSD"])
        await set_price(api.sim, "EURUSD", 1.2)
        got = set()
        for _ in range(10):
            frame = await wait_frame(ws, of_type("quote"))
            got.add(frame["account_id"])
            if len(got) == 2:
                break
    assert got == {account_id, second}


@pytest.mark.parametrize(
    "fields",
    [
        {"channel": "news"},
        {"channel": "quotes", "symbols": []},
        {"channel": "quotes"},
        {"channel": "quotes", "symbols": ["NOPE"]},
    ],
    ids=["unknown-channel", "empty-symbols", "no-symbols", "unknown-symbol"],
)
async def test_bad_subscription_is_an_error_frame_with_its_id(
    http, sim, account_id: str, fields: dict[str, Any]
) -> None:
    async with stream(http, sim) as ws:
        await send(ws, {"action": "subscribe", "id": 99, "account_id": account_id, **fields})
        frame = await wait_frame(ws, lambda f: f.get("id") == 99)
        assert frame["type"] == "error", frame
        assert isinstance(frame["error"], str)
        assert frame["error"]
        assert isinstance(frame["message"], str)
        await roundtrip(ws)  # the connection survives


async def test_subscribe_to_unknown_account_is_an_error_frame(http, sim) -> None:
    async with stream(http, sim) as ws:
        frame = await request_frame(ws, "subscribe", channel="orders", account_id="no-such")
    assert frame["type"] == "error"


async def test_subscribe_to_other_owners_account_is_an_error_frame(
    http, sim, account_id: str
) -> None:
    async with stream(http, sim, key=OTHER) as ws:
        frame = await request_frame(ws, "subscribe", channel="orders", account_id=account_id)
    assert frame["type"] == "error"


async def test_unknown_action_is_an_error_frame(http, sim) -> None:
    async with stream(http, sim) as ws:
        frame = await request_frame(ws, "dance")
        assert frame["type"] == "error"
        await roundtrip(ws)


# ------------------------------------------------------------------ order events


async def test_order_lifecycle_events(http, api: Api, account_id: str) -> None:
    sim = api.sim
    await set_price(sim, "EURUSD", 1.10000, 1.10010)
    async with stream(http, sim) as ws:
        await subscribe(ws, "orders", account_id)

        buy = await api.buy(account_id, volume=0.1, sl=1.09, tp=1.12)
        opened = await wait_frame(ws, of_type("order_opened"))
        assert opened["data"]["id"] == buy["id"]
        assert opened["data"]["symbol"] == "EURUSD"
        assert opened["data"]["type"] == "BUY"
        assert opened["data"]["volume"] == 0.1
        assert opened["data"]["price"] == pytest.approx(1.10010, abs=1e-9)
        assert opened["data"]["sl"] == pytest.approx(1.09)
        assert opened["data"]["tp"] == pytest.approx(1.12)

        await api.patch(acc(account_id, f"orders/{buy['id']}"), {"sl": 1.08})
        modified = await wait_frame(ws, of_type("order_modified"))
        assert modified["data"]["id"] == buy["id"]
        assert modified["data"]["sl"] == pytest.approx(1.08)
        assert modified["data"]["tp"] == pytest.approx(1.12)

        closed_reply = await api.close(account_id, buy["id"])
        closed = await wait_frame(ws, of_type("order_closed"))
        assert closed["data"]["id"] == buy["id"]
        assert closed["data"]["close_price"] == pytest.approx(closed_reply["close_price"])
        assert closed["data"]["profit"] == pytest.approx(closed_reply["profit"])

        limit = await api.order(
            account_id, symbol="EURUSD", type="SELL_LIMIT", volume=0.2, price=1.105
        )
        pending = await wait_frame(ws, of_type("order_opened"))
        assert pending["data"]["id"] == limit.body["id"]
        assert pending["data"]["type"] == "SELL_LIMIT"
        assert pending["data"]["price"] == pytest.approx(1.105)

        await set_price(sim, "EURUSD", 1.10500, 1.10510)
        filled = await wait_frame(ws, of_type("order_filled"))
        assert filled["data"]["id"] == limit.body["id"]
        assert filled["data"]["price"] == pytest.approx(1.105)

        stop = await api.order(account_id, symbol="EURUSD", type="BUY_STOP", volume=0.1, price=1.2)
        await wait_frame(ws, of_type("order_opened"))
        await api.delete(acc(account_id, f"orders/{stop.body['id']}"))
        cancelled = await wait_frame(ws, of_type("order_cancelled"))
        assert cancelled["data"]["id"] == stop.body["id"]

    for frame in (opened, modified, closed, pending, filled, cancelled):
        assert frame["account_id"] == account_id
        assert isinstance(frame["seq"], int)
        decode_event(frame_text(frame))  # matches the contract's shape


async def test_pending_price_change_is_order_modified(http, api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    order = await api.order(account_id, symbol="EURUSD", type="BUY_LIMIT", volume=0.1, price=1.09)
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        await api.patch(acc(account_id, f"orders/{order.body['id']}"), {"price": 1.095})
        modified = await wait_frame(ws, of_type("order_modified"))
    assert modified["data"]["id"] == order.body["id"]
    assert modified["data"]["price"] == pytest.approx(1.095)


async def test_stop_loss_hit_is_order_closed(http, api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    order = await api.buy(account_id, volume=0.1, sl=1.099)
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        await set_price(api.sim, "EURUSD", 1.09890, 1.09900)
        closed = await wait_frame(ws, of_type("order_closed"))
    assert closed["data"]["id"] == order["id"]
    assert closed["data"]["close_price"] == pytest.approx(1.0989, abs=1e-9)


# ---------------------------------------------------------------- account events


async def test_account_event_as_equity_moves(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(account_event_interval=0)) as sim:
        api = Api(http, sim)
        account_id = (await api.link_connected())["id"]
        await set_price(sim, "EURUSD", 1.10000, 1.10010)
        await api.buy(account_id, volume=1.0)
        async with stream(http, sim) as ws:
            await subscribe(ws, "account", account_id)
            await set_price(sim, "EURUSD", 1.10510, 1.10520)
            frame = await wait_frame(ws, of_type("account"))
    assert frame["account_id"] == account_id
    assert isinstance(frame["seq"], int)
    data = frame["data"]
    assert data["equity"] == pytest.approx(10_500.0, abs=0.01)
    assert data["balance"] == pytest.approx(10_000.0)
    assert data["margin"] > 0
    assert data["free_margin"] == pytest.approx(data["equity"] - data["margin"], abs=0.01)
    assert data["currency"] == "USD"
    assert isinstance(decode_event(frame_text(frame)), AccountUpdate)


async def test_throttled_equity_move_is_sent_within_the_interval(
    http, api: Api, account_id: str
) -> None:
    # Opening the position sends an account event; the price move right after it
    # falls inside account_event_interval (1 s) and must still be reported.
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    await api.buy(account_id, volume=1.0)
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "account", account_id)
        await set_price(api.sim, "EURUSD", 1.10510, 1.10520)
        frame = await wait_frame(
            ws,
            lambda f: (
                f.get("type") == "account"
                and f["data"]["equity"] == pytest.approx(10_500.0, abs=0.01)
            ),
            within=3.0,
        )
    assert frame["data"]["margin"] > 0


async def test_balance_change_sends_an_account_event_at_once(
    http, api: Api, account_id: str
) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    order = await api.buy(account_id, volume=1.0)
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "account", account_id)
        await set_price(api.sim, "EURUSD", 1.10110, 1.10120)
        closed = await api.close(account_id, order["id"])
        balance = 10_000.0 + closed["profit"] - 7.0
        frame = await wait_frame(
            ws,
            lambda f: (
                f.get("type") == "account"
                and f["data"]["balance"] == pytest.approx(balance, abs=0.01)
            ),
            within=0.9,  # sooner than account_event_interval
        )
    assert frame["data"]["margin"] == pytest.approx(0.0)


async def test_account_status_events_follow_the_lifecycle(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(provision_delay=30)) as sim:
        api = Api(http, sim)
        account_id = (await api.link()).body["id"]
        async with stream(http, sim) as ws:
            await subscribe(ws, "account", account_id)
            await steer(sim.complete_provisioning(account_id))
            connected = await wait_frame(ws, of_type("account_status"))
            assert connected["account_id"] == account_id
            assert connected["data"]["status"] == "connected"
            assert connected["data"]["error"] == ""
            assert isinstance(decode_event(frame_text(connected)), AccountStatusChanged)

            await steer(sim.set_account_status(account_id, "disconnected", error="lost"))
            between: list[dict[str, Any]] = []
            lost = await wait_frame(ws, of_type("account_status"), seen=between)
            assert lost["data"]["status"] == "disconnected"
            assert lost["data"]["error"] == "lost"
            seqs = [f["seq"] for f in [connected, *between, lost]]
            assert seqs == list(range(connected["seq"], lost["seq"] + 1))


async def test_failed_provisioning_is_an_account_status_error(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(provision_delay=30)) as sim:
        api = Api(http, sim)
        account_id = (await api.link(server="X-Broken")).body["id"]
        async with stream(http, sim) as ws:
            await subscribe(ws, "account", account_id)
            await steer(sim.complete_provisioning(account_id))
            frame = await wait_frame(ws, of_type("account_status"))
    assert frame["data"]["status"] == "error"
    assert frame["data"]["error"]


async def test_unlink_sends_a_final_disconnected_status(http, api: Api, account_id: str) -> None:
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "account", account_id)
        assert (await api.delete(f"/v1/accounts/{account_id}")).status == 204
        frame = await wait_frame(ws, of_type("account_status"))
    assert frame["account_id"] == account_id
    assert frame["data"]["status"] == "disconnected"


# --------------------------------------------------------------------------- seq


async def test_seq_grows_by_one_across_orders_and_account_channels(
    http, api: Api, account_id: str
) -> None:
    sim = api.sim
    await set_price(sim, "EURUSD", 1.10000, 1.10010)
    async with stream(http, sim) as ws:
        await subscribe(ws, "orders", account_id)
        await subscribe(ws, "account", account_id)
        before = len(sim.ledger(account_id))

        order = await api.buy(account_id, volume=0.5)
        await api.patch(acc(account_id, f"orders/{order['id']}"), {"tp": 1.2})
        await set_price(sim, "EURUSD", 1.10100, 1.10110)
        await api.close(account_id, order["id"])
        pending = await api.order(
            account_id, symbol="EURUSD", type="BUY_LIMIT", volume=0.1, price=1.1
        )
        await api.delete(acc(account_id, f"orders/{pending.body['id']}"))
        await steer(sim.set_account_status(account_id, "disconnected"))
        await steer(sim.set_account_status(account_id, "connected"))

        ledger = sim.ledger(account_id)
        expected = [(tag(e), e.seq) for e in ledger[before:]]
        received: list[dict[str, Any]] = []
        last = await wait_frame(
            ws, lambda f: f.get("type") in SEQ_TYPES and f["seq"] >= ledger[-1].seq, seen=received
        )
    events = [(f["type"], f["seq"]) for f in [*received, last] if f.get("type") in SEQ_TYPES]
    assert events == expected
    seqs = [seq for _, seq in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert {"order_opened", "order_modified", "order_closed", "order_cancelled"} <= {
        kind for kind, _ in events
    }
    assert {"account", "account_status"} <= {kind for kind, _ in events}


async def test_ledger_seqs_are_contiguous_from_one(http, api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    order = await api.buy(account_id, volume=0.1)
    await api.close(account_id, order["id"])
    ledger = api.sim.ledger(account_id)
    assert [e.seq for e in ledger] == list(range(1, len(ledger) + 1))
    kinds = [tag(e) for e in ledger]
    assert "order_opened" in kinds
    assert "order_closed" in kinds
    assert all(e.account_id == account_id for e in ledger)


async def test_seq_counts_events_nobody_subscribed_to(http, api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        first = await api.buy(account_id, volume=0.1)
        opened = await wait_frame(ws, of_type("order_opened"))
        await api.close(account_id, first["id"])  # also a balance change: an account event
        closed = await wait_frame(ws, of_type("order_closed"))
        second = await api.buy(account_id, volume=0.1)
        reopened = await wait_frame(ws, of_type("order_opened"))
    assert reopened["data"]["id"] == second["id"]
    assert closed["seq"] > opened["seq"]
    assert reopened["seq"] > closed["seq"] + 1  # the account event between shows as a gap
    ledger_kinds = {e.seq: tag(e) for e in api.sim.ledger(account_id)}
    gap = [ledger_kinds[s] for s in range(closed["seq"] + 1, reopened["seq"])]
    assert "account" in gap


async def test_ledger_matches_the_stream_decoders(api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    order = await api.buy(account_id, volume=0.1)
    await api.close(account_id, order["id"])
    kinds = {type(e) for e in api.sim.ledger(account_id)}
    assert OrderOpened in kinds
    assert OrderClosed in kinds
