"""Each account's terminal WebSocket: the handshake, subscriptions and their answers, pushes."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator

from ..helpers import OTHER, READ, Api, config, set_price, steer
from .helpers import (
    OPENED_ORDER_FIELDS,
    TIMEFRAMES,
    TRADE_FIELDS,
    Terminal,
    assert_terminal_error,
    connected_account,
    next_frame,
    of_type,
    roundtrip,
    send,
    silence,
    socket,
    subscribe,
    subscribed,
    wait_frame,
    with_key,
)

pytestmark = pytest.mark.anyio


async def handshake(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with asyncio.timeout(10):
        async with http.get(url, headers={"Connection": "Upgrade", "Upgrade": "websocket"}) as r:
            return r.status, await r.json()


# ------------------------------------------------------------------ handshake


async def test_the_handshake_needs_the_key_in_the_query(
    http: aiohttp.ClientSession, account: dict[str, Any]
) -> None:
    for key in (None, "nobody", OTHER):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(with_key(account["ws_url"], key))
        assert refused.value.status == 401
    async with socket(http, account, key=READ) as ws:  # any scope reads the stream
        assert await roundtrip(ws) == []


async def test_handshake_refusals_are_json(
    http: aiohttp.ClientSession, sim: Simulator, api: Api, account: dict[str, Any]
) -> None:
    status, body = await handshake(http, with_key(account["ws_url"], None))
    assert (status, body["error"]) == (401, "unauthorized")
    assert set(body) == {"error", "detail"}
    ghost = account["ws_url"].replace(account["id"], "nope")
    status, body = await handshake(http, with_key(ghost, "full-key"))
    assert (status, body["error"]) == (404, "not_found")
    linked = await api.post("/v1/accounts", {"server": "Sim-Demo", "login": 4242, "password": "p"})
    provisioning = account["ws_url"].replace(account["id"], linked.body["id"])
    status, body = await handshake(http, with_key(provisioning, "full-key"))
    assert (status, body["error"]) == (503, "terminal_not_ready")
    async with http.get(with_key(account["ws_url"], "full-key")) as plain:
        assert plain.status == 400
        assert plain.headers["Upgrade"] == "websocket"
        assert (await plain.json())["error"] == "websocket_required"


# -------------------------------------------------------------- subscriptions


async def test_subscriptions_are_answered_in_order(
    http: aiohttp.ClientSession, account: dict[str, Any]
) -> None:
    async with socket(http, account) as ws:
        requests = [
            {"action": "subscribe", "topic": "prices", "symbol": "EURUSD"},
            {"action": "subscribe", "topic": "bars", "symbol": "EURUSD", "timeframe": "M5"},
            {"action": "subscribe", "topic": "account"},
            {"action": "subscribe", "topic": "trades"},
            {"action": "subscribe", "topic": "nope"},
            {"action": "subscribe", "topic": "prices"},
            {"action": "subscribe", "topic": "bars", "symbol": "EURUSD", "timeframe": "H2"},
            {"action": "subscribe", "topic": "bars", "symbol": "EURUSD"},
            {"action": "subscribe", "topic": "prices", "symbol": "NOPE"},
            {"action": "subscribe", "topic": "prices", "symbol": "EURUSD"},
            {"action": "unsubscribe", "topic": "account"},
            {"action": "unsubscribe", "topic": "account"},
        ]
        for request in requests:
            await send(ws, request)
        answers = [await next_frame(ws) for _ in requests]
        assert [(a["type"], a["topic"]) for a in answers] == [
            ("subscribed", "prices"),
            ("subscribed", "bars"),
            ("subscribed", "account"),
            ("subscribed", "trades"),
            ("error", "nope"),
            ("error", "prices"),
            ("error", "bars"),
            ("error", "bars"),
            ("error", "prices"),
            ("subscribed", "prices"),
            ("unsubscribed", "account"),
            ("unsubscribed", "account"),
        ]
        assert all(set(a) == {"type", "topic", "message"} for a in answers)
        assert all(a["message"] for a in answers)
        assert answers[9]["message"].startswith("already subscribed")
        assert answers[11]["message"].startswith("was not subscribed")
        assert await roundtrip(ws) == [
            {"topic": "bars", "symbol": "EURUSD", "timeframe": "M5"},
            {"topic": "prices", "symbol": "EURUSD"},
            {"topic": "trades"},
        ]


async def test_messages_the_terminal_cannot_read_are_errors(
    http: aiohttp.ClientSession, account: dict[str, Any]
) -> None:
    async with socket(http, account) as ws:
        for text in ("{not json", "[1]", '{"action": "dance"}', '{"topic": "prices"}'):
            await ws.send_str(text)
            frame = await next_frame(ws)
            assert frame["type"] == "error", frame
        await ws.send_bytes(b"\x00")
        assert (await next_frame(ws))["type"] == "error"
        assert await roundtrip(ws) == []  # still open


async def test_steering_sees_what_each_socket_holds(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    account_id = account["id"]
    async with socket(http, account) as one, socket(http, account) as two:
        await steer(sim.wait_for_terminal_connections(2, account=account_id))
        await subscribed(one, "prices", symbol="EURUSD")
        await subscribed(two, "bars", symbol="XAUUSD", timeframe="H1")
        await subscribed(two, "trades")
        expected = [
            (account_id, "bars", "XAUUSD", "H1"),
            (account_id, "prices", "EURUSD", ""),
            (account_id, "trades", "", ""),
        ]
        await steer(sim.wait_for_terminal_subscriptions(expected, account=account_id))
        assert sim.terminal_subscriptions() == expected
        # In the reference stream's terms too, so one wait serves both dialects.
        await subscribed(one, "prices", symbol="GBPUSD")
        await subscribed(one, "account")
        await subscribed(two, "positions")
        await steer(
            sim.wait_for_subscriptions(
                [
                    (account_id, "quotes", ("EURUSD", "GBPUSD")),
                    (account_id, "orders", ()),
                    (account_id, "account", ()),
                ]
            )
        )
        assert (sim.stats.ws_connections, sim.stats.terminal_connections) == (2, 2)
        await steer(sim.wait_for_ws_connections(2))
        await subscribe(one, "prices", symbol="GBPUSD", action="unsubscribe")
        await subscribe(one, "account", action="unsubscribe")
        await subscribe(two, "positions", action="unsubscribe")
        sockets = sim.terminal_sockets(account_id)
        assert sorted(s.subscriptions for s in sockets) == [
            (("bars", "XAUUSD", "H1"), ("trades", "", "")),
            (("prices", "EURUSD", ""),),
        ]
    await steer(sim.wait_for_terminal_subscriptions([], timeout=5))
    await steer(sim.wait_for_terminal_connections(0))
    await steer(sim.wait_for_subscriptions([]))
    await steer(sim.wait_for_ws_connections(0))
    assert (sim.stats.ws_handshakes, sim.stats.terminal_handshakes) == (2, 2)


# --------------------------------------------------------------------- pushes


async def test_ticks_and_bars_follow_the_price(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    async with socket(http, account) as ws:
        await subscribed(ws, "prices", symbol="EURUSD")
        await subscribed(ws, "bars", symbol="EURUSD", timeframe="M1")
        await set_price(sim, "GBPUSD", 1.3)  # not subscribed
        await set_price(sim, "EURUSD", 1.12345, 1.12355)
        tick = await next_frame(ws)
        assert tick == {
            "type": "tick",
            "symbol": "EURUSD",
            "data": {
                "symbol": "EURUSD",
                "bid": 1.12345,
                "ask": 1.12355,
                "time": tick["data"]["time"],
                "last": 0.0,
                "volume": 0,
            },
        }
        bar = await next_frame(ws)
        assert (bar["type"], bar["symbol"], bar["timeframe"]) == ("bar", "EURUSD", "M1")
        assert bar["data"]["close"] == 1.12345
        assert bar["data"]["high"] >= 1.12345 >= bar["data"]["low"]
        assert bar["data"]["time"].endswith(":00.000Z")
        assert set(bar["data"]) == {
            "time", "open", "high", "low", "close", "tickVolume", "realVolume", "spread"
        }  # fmt: skip
        await subscribe(ws, "prices", symbol="EURUSD", action="unsubscribe")
        await set_price(sim, "EURUSD", 1.2)
        assert (await next_frame(ws))["type"] == "bar"
        assert await silence(ws, 0.2) == []


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
async def test_bars_of_every_timeframe(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], timeframe: str
) -> None:
    async with socket(http, account) as ws:
        await subscribed(ws, "bars", symbol="USDJPY", timeframe=timeframe)
        await set_price(sim, "USDJPY", 151.5)
        bar = await wait_frame(ws, of_type("bar"))
        assert (bar["timeframe"], bar["data"]["close"]) == (timeframe, 151.5)


async def test_positions_are_sent_whole_on_subscribe_and_every_change(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], term: Terminal
) -> None:
    await set_price(sim, "EURUSD", 1.10000, 1.10010)
    first = await term.buy(volume=0.3)
    async with socket(http, account) as ws:
        assert (await subscribe(ws, "positions"))["type"] == "subscribed"
        snapshot = await next_frame(ws)
        assert snapshot["type"] == "positions"
        [row] = snapshot["data"]
        assert set(row) == OPENED_ORDER_FIELDS
        assert row["ticket"] == first

        async def lots() -> list[tuple[int, float, str]]:
            frame = await wait_frame(ws, of_type("positions"))
            return [(r["ticket"], r["lots"], r["kind"]) for r in frame["data"]]

        pending = (await term.send(symbol="EURUSD", operation="BuyLimit", volume=0.1, price=1.099))[
            "order"
        ]
        assert await lots() == [(first, 0.3, "Position"), (pending, 0.1, "Pending")]
        await term.ok("POST", "/OrderModify", body={"ticket": first, "stopLoss": 1.05})
        assert await lots() == [(first, 0.3, "Position"), (pending, 0.1, "Pending")]
        await set_price(sim, "EURUSD", 1.09880, 1.09890)  # the pending order fills
        assert await lots() == [(first, 0.3, "Position"), (pending, 0.1, "Position")]
        await term.ok("POST", "/OrderClose", body={"ticket": first, "volume": 0.1})
        assert await lots() == [(first, 0.2, "Position"), (pending, 0.1, "Position")]
        await term.ok("POST", "/OrderClose", body={"ticket": first})
        assert await lots() == [(pending, 0.1, "Position")]
        await term.ok("POST", "/CloseAll", body={})
        assert await lots() == []


async def test_a_trade_per_deal(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], term: Terminal
) -> None:
    await set_price(sim, "EURUSD", 1.10000, 1.10010)
    async with socket(http, account) as ws:
        await subscribed(ws, "trades")
        ticket = await term.buy(volume=0.3, expertId=5, comment="go")
        opened = await next_frame(ws)
        assert opened["type"] == "trade"
        assert set(opened["data"]) == TRADE_FIELDS
        data = opened["data"]
        assert (data["entry"], data["type"], data["position"], data["order"]) == (
            "In",
            "Buy",
            ticket,
            ticket,
        )
        assert (data["volume"], data["price"], data["magic"], data["comment"]) == (
            0.3,
            1.1001,
            5,
            "go",
        )
        assert data["deal"] > 0
        assert data["degraded"] is False
        await set_price(sim, "EURUSD", 1.10100, 1.10110)
        await term.ok("POST", "/OrderClose", body={"ticket": ticket, "volume": 0.1})
        out = (await wait_frame(ws, of_type("trade")))["data"]
        assert (out["entry"], out["type"], out["position"], out["volume"]) == (
            "Out",
            "Sell",
            ticket,
            0.1,
        )
        assert (out["price"], out["profit"], out["commission"]) == (1.101, 9.0, -0.7)
        assert out["order"] != ticket
        pending = await term.send(symbol="EURUSD", operation="SellStop", volume=0.1, price=1.1)
        await set_price(sim, "EURUSD", 1.09990, 1.10000)  # fills
        filled = (await wait_frame(ws, of_type("trade")))["data"]
        assert (filled["entry"], filled["position"]) == ("In", pending["order"])


async def test_account_pushes_follow_the_balance(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any], term: Terminal
) -> None:
    async with socket(http, account) as ws:
        await subscribed(ws, "account")
        ticket = await term.buy(volume=1.0)
        update = await wait_frame(ws, of_type("account"))
        assert set(update["data"]) == {
            "balance", "credit", "profit", "equity", "margin", "freeMargin",
            "marginLevel", "leverage", "currency", "type",
        }  # fmt: skip
        assert update["data"]["margin"] > 0
        await term.ok("POST", "/OrderClose", body={"ticket": ticket})
        closed = await wait_frame(
            ws, lambda f: f.get("type") == "account" and not f["data"]["margin"]
        )
        assert closed["data"]["balance"] < 10000  # the commission


async def test_terminal_status_on_subscribe_and_on_change(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    async with socket(http, account) as ws:
        assert (await subscribe(ws, "terminal"))["type"] == "subscribed"
        status = await next_frame(ws)
        assert status["type"] == "terminal"
        assert (status["data"]["connected"], status["data"]["tradeAllowed"]) == (True, True)
        assert status["data"]["serverTime"].endswith("Z")
        await steer(sim.set_account_status(account["id"], "disconnected"))
        down = await next_frame(ws)
        assert (down["type"], down["data"]["connected"]) == ("terminal", False)
        await set_price(sim, "EURUSD", 1.5)
        assert await silence(ws, 0.2) == []  # no periodic push in this suite


async def test_no_prices_while_the_account_is_not_connected(
    http: aiohttp.ClientSession, sim: Simulator, account: dict[str, Any]
) -> None:
    async with socket(http, account) as ws:
        await subscribed(ws, "prices", symbol="EURUSD")
        await steer(sim.set_account_status(account["id"], "error", "broker down"))
        await set_price(sim, "EURUSD", 1.3)
        assert await silence(ws, 0.2) == []
        await steer(sim.set_account_status(account["id"], "connected"))
        await set_price(sim, "EURUSD", 1.4)
        assert (await next_frame(ws))["data"]["bid"] == 1.4


async def test_the_periodic_terminal_push(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(terminal_interval=0.05)) as sim:
        account = await connected_account(Api(http, sim))
        async with socket(http, account) as ws:
            await subscribed(ws, "terminal")
            for _ in range(3):
                assert (await next_frame(ws, within=5))["type"] == "terminal"


async def test_mt4_accounts_stream_alike(
    http: aiohttp.ClientSession, sim: Simulator, api: Api
) -> None:
    account = await connected_account(api, platform="mt4")
    term = Terminal(http, account)
    async with socket(http, account) as ws:
        await subscribed(ws, "trades")
        ticket = await term.buy(expertId=3, comment="k")
        trade = (await next_frame(ws))["data"]
        assert (trade["deal"], trade["order"], trade["position"]) == (0, ticket, ticket)
        await term.ok("POST", "/OrderClose", body={"ticket": ticket})
        out = (await wait_frame(ws, of_type("trade")))["data"]
        assert (out["entry"], out["deal"], out["order"]) == ("Out", 0, ticket)
        assert (out["magic"], out["comment"]) == (3, "k")  # MT4 keeps them on the exit


async def test_a_slow_reader_loses_ticks_not_trades_and_is_told(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(config(terminal_interval=None, terminal_queue_limit=4)) as sim:
        account = await connected_account(Api(http, sim))
        term = Terminal(http, account)
        async with socket(http, account) as ws:
            await subscribed(ws, "prices", symbol="EURUSD")
            await subscribed(ws, "trades")
            await steer(sim.faults.stall_writes(account=account["id"]))
            for i in range(10):
                await set_price(sim, "EURUSD", 1.1 + i / 10_000)
            ticket = await term.buy()
            [info] = sim.terminal_sockets(account["id"])
            # Four ticks queued, six dropped (one warning counts them), the trade queued.
            assert (info.dropped, info.queued) == (6, 6)
            await steer(sim.faults.resume_writes(account=account["id"]))
            frames = [await next_frame(ws) for _ in range(6)]
            assert [f["type"] for f in frames] == ["tick"] * 4 + ["warning", "trade"]
            assert [f["data"]["bid"] for f in frames[:4]] == [1.1, 1.1001, 1.1002, 1.1003]
            assert frames[4] == {"type": "warning", "dropped": 6}
            assert frames[5]["data"]["position"] == ticket
            await set_price(sim, "EURUSD", 1.2)
            assert (await next_frame(ws))["type"] == "tick"
            assert await silence(ws, 0.2) == []


async def test_unauthorised_requests_after_the_handshake_cannot_happen(
    http: aiohttp.ClientSession, account: dict[str, Any], term: Terminal
) -> None:
    # The socket is the account's: there is no account field to aim elsewhere.
    async with socket(http, account) as ws:
        await send(ws, {"action": "subscribe", "topic": "trades", "account_id": "x"})
        assert (await next_frame(ws))["type"] == "subscribed"
    assert_terminal_error(await term.get("/AccountSummary", key="nope"), 401)
