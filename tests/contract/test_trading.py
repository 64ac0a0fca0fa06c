"""Orders: market and pending, SL/TP, modify, close, validation, money and profit."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fxsocket_async.simulator import Simulator

from .helpers import (
    ORDER_REPLY_FIELDS,
    Api,
    acc,
    assert_error,
    config,
    of_type,
    set_price,
    stream,
    subscribe,
    wait_frame,
)

pytestmark = pytest.mark.anyio

BID, ASK = 1.10000, 1.10010


@pytest.fixture
async def eurusd(api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", BID, ASK)


def same_price(value: float) -> Any:
    return pytest.approx(value, abs=1e-9)


# ------------------------------------------------------------------ market orders


async def test_market_buy_fills_at_the_ask(api: Api, account_id: str, eurusd: None) -> None:
    quote = await api.quote(account_id)
    reply = await api.order(account_id, symbol="EURUSD", type="BUY", volume=0.5)
    assert reply.status in (200, 201), reply
    body = reply.body
    assert body.keys() >= ORDER_REPLY_FIELDS, body
    assert body["status"] == "filled"
    assert body["price"] == same_price(quote["ask"])
    assert body["price"] == same_price(ASK)
    assert (body["symbol"], body["type"], body["volume"]) == ("EURUSD", "BUY", 0.5)


async def test_market_sell_fills_at_the_bid(api: Api, account_id: str, eurusd: None) -> None:
    quote = await api.quote(account_id)
    body = await api.sell(account_id, volume=0.5)
    assert body["status"] == "filled"
    assert body["price"] == same_price(quote["bid"])
    assert body["price"] == same_price(BID)


async def test_market_order_becomes_a_position(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.buy(account_id, volume=0.3, sl=1.09, tp=1.12, comment="hello")
    positions = await api.positions(account_id)
    assert len(positions) == 1
    position = positions[0]
    assert {"id", "symbol", "type", "volume", "open_price", "sl", "tp", "profit"} <= position.keys()
    assert position["id"] == order["id"]
    assert (position["symbol"], position["type"], position["volume"]) == ("EURUSD", "BUY", 0.3)
    assert position["open_price"] == same_price(ASK)
    assert position["sl"] == same_price(1.09)
    assert position["tp"] == same_price(1.12)
    assert await api.pending(account_id) == []


async def test_order_reply_echoes_sl_and_tp(api: Api, account_id: str, eurusd: None) -> None:
    body = await api.sell(account_id, volume=0.1, sl=1.11, tp=1.09)
    assert body["sl"] == same_price(1.11)
    assert body["tp"] == same_price(1.09)


@pytest.mark.parametrize("volume", [0.01, 0.07, 0.29, 1.13, 100])
async def test_volume_in_hundredths_is_accepted(
    api: Api, account_id: str, eurusd: None, volume: float
) -> None:
    await set_price(api.sim, "EURUSD", 0.05000, 0.05010)  # cheap enough for 100 lots
    body = await api.buy(account_id, volume=volume)
    assert body["volume"] == pytest.approx(volume)


# ----------------------------------------------------------------- pending orders

# type, order price, a price that does not cross, a price that crosses
PENDING = {
    "BUY_LIMIT": (1.09900, (1.09890, 1.09901), (1.09880, 1.09890)),
    "SELL_LIMIT": (1.10100, (1.10099, 1.10109), (1.10120, 1.10130)),
    "BUY_STOP": (1.10100, (1.10089, 1.10099), (1.10100, 1.10110)),
    "SELL_STOP": (1.09900, (1.09901, 1.09911), (1.09890, 1.09900)),
}


@pytest.mark.parametrize("kind", list(PENDING))
async def test_pending_order_rests(api: Api, account_id: str, eurusd: None, kind: str) -> None:
    price = PENDING[kind][0]
    reply = await api.order(account_id, symbol="EURUSD", type=kind, volume=0.2, price=price)
    assert reply.status in (200, 201), reply
    assert reply.body["status"] == "pending"
    assert reply.body["price"] == same_price(price)
    assert reply.body["type"] == kind
    listed = await api.pending(account_id)
    assert [o["id"] for o in listed] == [reply.body["id"]]
    assert listed[0]["status"] == "pending"
    assert listed[0]["price"] == same_price(price)
    assert await api.positions(account_id) == []


@pytest.mark.parametrize("kind", list(PENDING))
async def test_pending_order_does_not_fill_before_the_price_crosses(
    api: Api, account_id: str, eurusd: None, kind: str
) -> None:
    price, near, _ = PENDING[kind]
    await api.order(account_id, symbol="EURUSD", type=kind, volume=0.2, price=price)
    await set_price(api.sim, "EURUSD", *near)
    assert len(await api.pending(account_id)) == 1
    assert await api.positions(account_id) == []


@pytest.mark.parametrize("kind", list(PENDING))
async def test_pending_order_fills_at_its_price_when_crossed(
    http, api: Api, account_id: str, eurusd: None, kind: str
) -> None:
    price, _, cross = PENDING[kind]
    reply = await api.order(account_id, symbol="EURUSD", type=kind, volume=0.2, price=price)
    order_id = reply.body["id"]
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        await set_price(api.sim, "EURUSD", *cross)
        filled = await wait_frame(ws, of_type("order_filled"))
    assert filled["account_id"] == account_id
    assert filled["data"]["id"] == order_id
    assert filled["data"]["price"] == same_price(price)
    positions = await api.positions(account_id)
    assert [p["id"] for p in positions] == [order_id]
    assert positions[0]["open_price"] == same_price(price)
    assert positions[0]["type"] == ("BUY" if kind.startswith("BUY") else "SELL")
    assert await api.pending(account_id) == []


# ----------------------------------------------------------------------- SL and TP


async def test_stop_loss_closes_a_buy_at_the_bid(
    http, api: Api, account_id: str, eurusd: None
) -> None:
    order = await api.buy(account_id, volume=1.0, sl=1.09500, tp=1.10500)
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        await set_price(api.sim, "EURUSD", 1.09490, 1.09500)
        closed = await wait_frame(ws, of_type("order_closed"))
    assert closed["data"]["id"] == order["id"]
    assert closed["data"]["close_price"] == same_price(1.09490)
    assert closed["data"]["profit"] == pytest.approx((1.09490 - ASK) * 100_000, abs=0.01)
    assert await api.positions(account_id) == []
    trades = (await api.history(account_id))["trades"]
    assert [t["id"] for t in trades] == [order["id"]]
    trade = trades[0]
    assert trade["profit"] == pytest.approx(closed["data"]["profit"], abs=0.01)
    assert trade["commission"] == pytest.approx(-7.0)
    assert trade["swap"] == pytest.approx(0.0)


async def test_take_profit_closes_a_sell_at_the_ask(
    http, api: Api, account_id: str, eurusd: None
) -> None:
    order = await api.sell(account_id, volume=1.0, sl=1.10500, tp=1.09500)
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        await set_price(api.sim, "EURUSD", 1.09480, 1.09490)
        closed = await wait_frame(ws, of_type("order_closed"))
    assert closed["data"]["id"] == order["id"]
    assert closed["data"]["close_price"] == same_price(1.09490)
    assert closed["data"]["profit"] == pytest.approx((BID - 1.09490) * 100_000, abs=0.01)
    trade = (await api.history(account_id))["trades"][0]
    assert {"profit", "commission", "swap"} <= trade.keys()
    assert trade["close_price"] == same_price(1.09490)


async def test_take_profit_closes_a_buy(http, api: Api, account_id: str, eurusd: None) -> None:
    order = await api.buy(account_id, volume=0.1, tp=1.10500)
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        await set_price(api.sim, "EURUSD", 1.10500, 1.10510)
        closed = await wait_frame(ws, of_type("order_closed"))
    assert closed["data"]["id"] == order["id"]
    assert closed["data"]["profit"] > 0
    assert await api.positions(account_id) == []


async def test_stop_loss_closes_a_sell(http, api: Api, account_id: str, eurusd: None) -> None:
    order = await api.sell(account_id, volume=0.1, sl=1.10500)
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        await set_price(api.sim, "EURUSD", 1.10490, 1.10500)
        closed = await wait_frame(ws, of_type("order_closed"))
    assert closed["data"]["id"] == order["id"]
    assert closed["data"]["profit"] < 0
    assert await api.positions(account_id) == []


# ------------------------------------------------------------------------- modify


async def test_modify_sl_and_tp_of_a_position(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.buy(account_id, volume=0.1)
    reply = await api.patch(acc(account_id, f"orders/{order['id']}"), {"sl": 1.09, "tp": 1.12})
    assert reply.status == 200, reply
    assert {"id", "sl", "tp", "price", "updated"} <= reply.body.keys()
    assert reply.body["id"] == order["id"]
    assert reply.body["sl"] == same_price(1.09)
    assert reply.body["tp"] == same_price(1.12)
    assert reply.body["updated"] is True
    position = (await api.positions(account_id))[0]
    assert (position["sl"], position["tp"]) == (same_price(1.09), same_price(1.12))


async def test_modify_only_sl_keeps_tp(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.buy(account_id, volume=0.1, tp=1.12)
    reply = await api.patch(acc(account_id, f"orders/{order['id']}"), {"sl": 1.09})
    assert reply.status == 200, reply
    assert reply.body["tp"] == same_price(1.12)


async def test_modify_price_of_a_pending_order(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.order(account_id, symbol="EURUSD", type="BUY_LIMIT", volume=0.1, price=1.099)
    route = acc(account_id, f"orders/{order.body['id']}")
    reply = await api.patch(route, {"price": 1.098})
    assert reply.status == 200, reply
    assert reply.body["price"] == same_price(1.098)
    assert reply.body["updated"] is True
    assert (await api.pending(account_id))[0]["price"] == same_price(1.098)


@pytest.mark.parametrize(
    "change", [{"symbol": "GBPUSD"}, {"type": "SELL"}, {"volume": 0.2}, {"sl": 1.09, "volume": 2}]
)
async def test_modify_immutable_field_is_400(
    api: Api, account_id: str, eurusd: None, change: dict[str, Any]
) -> None:
    order = await api.buy(account_id, volume=0.1)
    reply = await api.patch(acc(account_id, f"orders/{order['id']}"), change)
    assert_error(reply, 400, "immutable_field")
    position = (await api.positions(account_id))[0]
    assert (position["symbol"], position["type"], position["volume"]) == ("EURUSD", "BUY", 0.1)
    assert position["sl"] in (None, 0, 0.0)


async def test_modify_price_of_a_position_is_400(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.buy(account_id, volume=0.1)
    reply = await api.patch(acc(account_id, f"orders/{order['id']}"), {"price": 1.2})
    assert_error(reply, 400)
    assert (await api.positions(account_id))[0]["open_price"] == same_price(ASK)


async def test_modify_sl_on_the_wrong_side_is_invalid_stops(
    api: Api, account_id: str, eurusd: None
) -> None:
    order = await api.buy(account_id, volume=0.1)
    reply = await api.patch(acc(account_id, f"orders/{order['id']}"), {"sl": 1.2})
    assert_error(reply, 400, "invalid_stops")


async def test_modify_pending_price_to_the_wrong_side_is_invalid_price(
    api: Api, account_id: str, eurusd: None
) -> None:
    order = await api.order(account_id, symbol="EURUSD", type="BUY_LIMIT", volume=0.1, price=1.099)
    reply = await api.patch(acc(account_id, f"orders/{order.body['id']}"), {"price": 1.2})
    assert_error(reply, 400, "invalid_price")


async def test_modify_unknown_order_is_404(api: Api, account_id: str) -> None:
    reply = await api.patch(acc(account_id, "orders/no-such-order"), {"sl": 1.0})
    assert_error(reply, 404, "order_not_found")


async def test_modify_with_invalid_json_is_400(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.buy(account_id, volume=0.1)
    route = acc(account_id, f"orders/{order['id']}")
    assert_error(await api.request("PATCH", route, data="{sl:"), 400, "invalid_request")


# -------------------------------------------------------------------- close/cancel


async def test_close_position_returns_close_price_and_profit(
    api: Api, account_id: str, eurusd: None
) -> None:
    order = await api.buy(account_id, volume=1.0)
    await set_price(api.sim, "EURUSD", 1.10110, 1.10120)
    reply = await api.delete(acc(account_id, f"orders/{order['id']}"))
    assert reply.status == 200, reply
    body = reply.body
    assert body["id"] == order["id"]
    assert body["status"] == "closed"
    assert body["close_price"] == same_price(1.10110)
    assert body["profit"] == pytest.approx(100.0, abs=0.01)
    assert await api.positions(account_id) == []


async def test_cancel_pending_order(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.order(account_id, symbol="EURUSD", type="SELL_STOP", volume=0.1, price=1.09)
    reply = await api.delete(acc(account_id, f"orders/{order.body['id']}"))
    assert reply.status == 200, reply
    assert reply.body["id"] == order.body["id"]
    assert reply.body["status"] == "cancelled"
    assert await api.pending(account_id) == []
    assert await api.positions(account_id) == []


async def test_closing_twice_is_404(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.buy(account_id, volume=0.1)
    route = acc(account_id, f"orders/{order['id']}")
    assert (await api.delete(route)).status == 200
    assert_error(await api.delete(route), 404, "order_not_found")


async def test_cancelling_twice_is_404(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.order(account_id, symbol="EURUSD", type="BUY_STOP", volume=0.1, price=1.2)
    route = acc(account_id, f"orders/{order.body['id']}")
    assert (await api.delete(route)).status == 200
    assert_error(await api.delete(route), 404, "order_not_found")


async def test_close_unknown_order_is_404(api: Api, account_id: str) -> None:
    assert_error(await api.delete(acc(account_id, "orders/no-such-order")), 404, "order_not_found")


# --------------------------------------------------------------------- validation

INVALID_ORDERS = [
    ({"symbol": "EURUSD", "type": "BUY", "volume": 0}, "invalid_volume"),
    ({"symbol": "EURUSD", "type": "BUY", "volume": -1}, "invalid_volume"),
    ({"symbol": "EURUSD", "type": "BUY", "volume": 0.005}, "invalid_volume"),
    ({"symbol": "EURUSD", "type": "BUY", "volume": 0.015}, "invalid_volume"),
    ({"symbol": "EURUSD", "type": "BUY", "volume": 100.01}, "invalid_volume"),
    ({"symbol": "EURUSD", "type": "BUY", "volume": "1"}, "invalid_request"),
    ({"symbol": "EURUSD", "type": "BUY"}, "invalid_request"),
    ({"type": "BUY", "volume": 0.1}, "invalid_request"),
    ({"symbol": "EURUSD", "volume": 0.1}, "invalid_request"),
    ({"symbol": "EURUSD", "type": "BUY_LIMIT", "volume": 0.1}, "invalid_price"),
    ({"symbol": "EURUSD", "type": "BUY", "volume": 0.1, "price": 1.1001}, "invalid_price"),
    ({"symbol": "EURUSD", "type": "SELL", "volume": 0.1, "price": 1.1}, "invalid_price"),
    ({"symbol": "EURUSD", "type": "BUY_LIMIT", "volume": 0.1, "price": 1.102}, "invalid_price"),
    ({"symbol": "EURUSD", "type": "SELL_LIMIT", "volume": 0.1, "price": 1.098}, "invalid_price"),
    ({"symbol": "EURUSD", "type": "BUY_STOP", "volume": 0.1, "price": 1.098}, "invalid_price"),
    ({"symbol": "EURUSD", "type": "SELL_STOP", "volume": 0.1, "price": 1.102}, "invalid_price"),
    ({"symbol": "EURUSD", "type": "BUY_LIMIT", "volume": 0.1, "price": -1}, "invalid_price"),
    ({"symbol": "EURUSD", "type": "BUY", "volume": 0.1, "sl": 1.2}, "invalid_stops"),
    ({"symbol": "EURUSD", "type": "BUY", "volume": 0.1, "tp": 1.05}, "invalid_stops"),
    ({"symbol": "EURUSD", "type": "SELL", "volume": 0.1, "sl": 1.05}, "invalid_stops"),
    ({"symbol": "EURUSD", "type": "SELL", "volume": 0.1, "tp": 1.2}, "invalid_stops"),
    ({"symbol": "EURUSD", "type": "BUY", "volume": 0.1, "sl": -1}, "invalid_stops"),
    (
        {"symbol": "EURUSD", "type": "BUY_LIMIT", "volume": 0.1, "price": 1.09, "sl": 1.095},
        "invalid_stops",
    ),
    ({"symbol": "NOPE", "type": "BUY", "volume": 0.1}, "invalid_symbol"),
    ({"symbol": "EURUSD", "type": "BUY_STOP_LIMIT", "volume": 0.1}, "invalid_type"),
    ({"symbol": "EURUSD", "type": "HOLD", "volume": 0.1}, "invalid_type"),
    (["EURUSD", "BUY", 0.1], "invalid_request"),
]


@pytest.mark.parametrize(
    ("body", "code"),
    INVALID_ORDERS,
    ids=[f"{i}-{code}" for i, (_, code) in enumerate(INVALID_ORDERS)],
)
async def test_invalid_order_is_refused(
    api: Api, account_id: str, eurusd: None, body: Any, code: str
) -> None:
    assert_error(await api.post(acc(account_id, "orders"), body), 400, code)
    assert await api.positions(account_id) == []
    assert await api.pending(account_id) == []


RAW_INVALID = [
    ('{"symbol": "EURUSD", "type": "BUY", "volume": NaN}', {"invalid_request"}),
    ('{"symbol": "EURUSD", "type": "BUY", "volume": Infinity}', {"invalid_request"}),
    # valid JSON grammar, but no finite double: either reading refuses it
    ('{"symbol": "EURUSD", "type": "BUY", "volume": 1e400}', {"invalid_volume", "invalid_request"}),
    ('{"symbol": "EURUSD", "type": "BUY", "volume": 0.1', {"invalid_request"}),
    ("", {"invalid_request"}),
]


@pytest.mark.parametrize(
    ("text", "codes"), RAW_INVALID, ids=["nan", "inf", "1e400", "cut", "empty"]
)
async def test_order_body_that_is_not_valid_json_is_refused(
    api: Api, account_id: str, eurusd: None, text: str, codes: set[str]
) -> None:
    reply = await api.request("POST", acc(account_id, "orders"), data=text)
    assert_error(reply, 400, codes)
    assert await api.positions(account_id) == []


async def test_order_beyond_free_margin_is_not_enough_money(
    api: Api, account_id: str, eurusd: None
) -> None:
    # 50 lots of EURUSD at 1.1 need 55,000 USD of margin at 1:100; the balance is 10,000.
    reply = await api.order(account_id, symbol="EURUSD", type="BUY", volume=50)
    assert_error(reply, 400, "not_enough_money")
    assert await api.positions(account_id) == []


async def test_margin_already_used_counts_against_new_orders(
    api: Api, account_id: str, eurusd: None
) -> None:
    await api.buy(account_id, volume=8)  # 8,800 USD margin
    reply = await api.order(account_id, symbol="EURUSD", type="BUY", volume=2)
    assert_error(reply, 400, "not_enough_money")


# -------------------------------------------------------------- summary and profit


async def test_summary_of_a_fresh_account(api: Api, account_id: str) -> None:
    body = await api.summary(account_id)
    assert {"balance", "equity", "margin", "free_margin", "currency"} <= body.keys()
    assert body["balance"] == pytest.approx(10_000.0)
    assert body["equity"] == pytest.approx(10_000.0)
    assert body["margin"] == pytest.approx(0.0)
    assert body["free_margin"] == pytest.approx(10_000.0)
    assert body["currency"] == "USD"


async def test_equity_and_margin_follow_an_open_position(
    api: Api, account_id: str, eurusd: None
) -> None:
    await api.buy(account_id, volume=1.0)
    await set_price(api.sim, "EURUSD", ASK + 0.0010, ASK + 0.0011)
    body = await api.summary(account_id)
    assert body["balance"] == pytest.approx(10_000.0)
    assert body["equity"] == pytest.approx(10_100.0, abs=0.01)
    assert body["margin"] == pytest.approx(1_100.0, rel=0.005)
    assert body["free_margin"] == pytest.approx(body["equity"] - body["margin"], abs=0.01)
    position = (await api.positions(account_id))[0]
    assert position["profit"] == pytest.approx(100.0, abs=0.01)


async def test_equity_falls_with_a_losing_position(api: Api, account_id: str, eurusd: None) -> None:
    await api.sell(account_id, volume=2.0)
    await set_price(api.sim, "EURUSD", BID + 0.0010, ASK + 0.0010)
    body = await api.summary(account_id)
    assert body["equity"] == pytest.approx(10_000.0 - (ASK + 0.0010 - BID) * 200_000, abs=0.01)


async def test_closing_books_profit_commission_and_swap_into_balance(
    api: Api, account_id: str, eurusd: None
) -> None:
    order = await api.buy(account_id, volume=2.0)
    await set_price(api.sim, "EURUSD", 1.10060, 1.10070)
    closed = await api.close(account_id, order["id"])
    assert closed["profit"] == pytest.approx(100.0, abs=0.01)
    trade = (await api.history(account_id))["trades"][0]
    assert trade["commission"] == pytest.approx(-14.0)
    summary = await api.summary(account_id)
    expected = 10_000.0 + trade["profit"] + trade["commission"] + trade["swap"]
    assert summary["balance"] == pytest.approx(expected, abs=0.01)
    assert summary["equity"] == pytest.approx(expected, abs=0.01)
    assert summary["margin"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("symbol", "open_quote", "close_quote", "volume", "profit"),
    [
        ("EURUSD", (1.10000, 1.10010), (1.10210, 1.10220), 0.5, (1.10210 - 1.10010) * 50_000),
        ("GBPUSD", (1.25000, 1.25020), (1.24920, 1.24940), 1.0, (1.24920 - 1.25020) * 100_000),
        ("USDJPY", (150.000, 150.010), (150.510, 150.520), 1.0, 0.5 * 100_000 / 150.510),
        ("XAUUSD", (2000.00, 2000.50), (2010.00, 2010.50), 0.1, (2010.00 - 2000.50) * 10),
    ],
)
async def test_profit_of_a_closed_buy(
    api: Api,
    account_id: str,
    symbol: str,
    open_quote: tuple[float, float],
    close_quote: tuple[float, float],
    volume: float,
    profit: float,
) -> None:
    await set_price(api.sim, symbol, *open_quote)
    order = await api.buy(account_id, symbol=symbol, volume=volume)
    assert order["price"] == same_price(open_quote[1])
    await set_price(api.sim, symbol, *close_quote)
    closed = await api.close(account_id, order["id"])
    assert closed["close_price"] == same_price(close_quote[0])
    assert closed["profit"] == pytest.approx(profit, rel=1e-4, abs=0.011)


@pytest.mark.parametrize(
    ("symbol", "open_quote", "close_quote", "volume", "profit"),
    [
        ("EURUSD", (1.10000, 1.10010), (1.09890, 1.09900), 1.0, (1.10000 - 1.09900) * 100_000),
        ("USDJPY", (150.000, 150.010), (149.490, 149.500), 1.0, 0.5 * 100_000 / 149.500),
        ("XAUUSD", (2000.00, 2000.50), (1990.00, 1990.50), 1.0, (2000.00 - 1990.50) * 100),
    ],
)
async def test_profit_of_a_closed_sell(
    api: Api,
    account_id: str,
    symbol: str,
    open_quote: tuple[float, float],
    close_quote: tuple[float, float],
    volume: float,
    profit: float,
) -> None:
    await set_price(api.sim, symbol, *open_quote)
    order = await api.sell(account_id, symbol=symbol, volume=volume)
    assert order["price"] == same_price(open_quote[0])
    await set_price(api.sim, symbol, *close_quote)
    closed = await api.close(account_id, order["id"])
    assert closed["close_price"] == same_price(close_quote[1])
    assert closed["profit"] == pytest.approx(profit, rel=1e-4, abs=0.011)


async def test_order_ids_are_ord_and_ten_alphanumerics(
    api: Api, account_id: str, eurusd: None
) -> None:
    body = await api.buy(account_id, volume=0.1)
    assert re.fullmatch(r"ord_[A-Za-z0-9]{10}", body["id"]), body["id"]


async def test_modify_with_zero_removes_the_stop(api: Api, account_id: str, eurusd: None) -> None:
    order = await api.buy(account_id, volume=0.1, sl=1.09, tp=1.12)
    reply = await api.patch(acc(account_id, f"orders/{order['id']}"), {"sl": 0})
    assert reply.status == 200, reply
    assert reply.body["sl"] in (None, 0, 0.0)
    assert reply.body["tp"] == same_price(1.12)
    assert (await api.positions(account_id))[0]["sl"] in (None, 0, 0.0)


async def test_modify_that_changes_nothing_is_not_updated(
    api: Api, account_id: str, eurusd: None
) -> None:
    order = await api.buy(account_id, volume=0.1, sl=1.09)
    reply = await api.patch(acc(account_id, f"orders/{order['id']}"), {"sl": 1.09})
    assert reply.status == 200, reply
    assert reply.body["updated"] is False


@pytest.mark.parametrize("body", [{}, {"comment": "x"}, {"sl": "low"}])
async def test_modify_without_a_known_field_is_invalid_request(
    api: Api, account_id: str, eurusd: None, body: dict[str, Any]
) -> None:
    order = await api.buy(account_id, volume=0.1)
    reply = await api.patch(acc(account_id, f"orders/{order['id']}"), body)
    assert_error(reply, 400, "invalid_request")


async def test_leverage_and_balance_come_from_the_config(http) -> None:
    async with Simulator(config(leverage=50, balance=2_500.0)) as sim:
        api = Api(http, sim)
        account_id = (await api.link_connected())["id"]
        await set_price(sim, "EURUSD", BID, ASK)
        assert (await api.summary(account_id))["balance"] == pytest.approx(2_500.0)
        await api.buy(account_id, volume=1.0)
        assert (await api.summary(account_id))["margin"] == pytest.approx(2_200.0, rel=0.005)
        reply = await api.order(account_id, symbol="EURUSD", type="BUY", volume=1.0)
        assert_error(reply, 400, "not_enough_money")
