"""Trading through the terminal: OrderSend, OrderModify, OrderClose, CloseAll, and one engine."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator

from ..helpers import Api, acc, set_price, steer
from .helpers import OPENED_ORDER_FIELDS, Terminal, assert_terminal_error, connected_account

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
async def still_market(sim: Simulator) -> None:
    await set_price(sim, "EURUSD", 1.10000, 1.10010)


async def refused(term: Terminal, retcode: int, **body: Any) -> dict[str, Any]:
    result = await term.send(**body)
    assert result["success"] is False, result
    assert result["outcome"] == "rejected", result
    assert result["retcode"] == retcode, result
    assert result["order"] == 0, result
    return result


# -------------------------------------------------------------------- OrderSend


async def test_a_market_order_fills_and_is_a_position(term: Terminal) -> None:
    result = await term.send(
        symbol="EURUSD", operation="Buy", volume=0.1, stopLoss=1.09, comment="c1", expertId=42
    )
    assert result["success"] is True
    assert (result["outcome"], result["retcode"]) == ("applied", 10009)
    assert result["retcodeDescription"]
    assert (result["price"], result["bid"], result["ask"]) == (1.1001, 1.1, 1.1001)
    assert result["volume"] == 0.1
    assert result["deal"] > 0
    assert result["order"] > 0
    [row] = await term.opened()
    assert set(row) == OPENED_ORDER_FIELDS
    assert row["ticket"] == result["order"]
    assert (row["type"], row["kind"], row["lots"]) == ("Buy", "Position", 0.1)
    assert (row["openPrice"], row["currentPrice"]) == (1.1001, 1.1)
    assert (row["stopLoss"], row["takeProfit"]) == (1.09, 0.0)
    assert (row["magic"], row["comment"]) == (42, "c1")
    assert row["profit"] == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("operation", "price", "kind"),
    [
        ("BuyLimit", 1.09, "BuyLimit"),
        ("sell_limit", 1.11, "SellLimit"),
        ("BUY-STOP", 1.11, "BuyStop"),
        ("SellStop", 1.09, "SellStop"),
    ],
)
async def test_a_pending_order_is_placed(
    term: Terminal, operation: str, price: float, kind: str
) -> None:
    result = await term.send(symbol="EURUSD", operation=operation, volume=0.2, price=price)
    assert (result["success"], result["retcode"], result["deal"]) == (True, 10008, 0)
    assert result["price"] == price
    [row] = await term.opened()
    assert (row["type"], row["kind"], row["openPrice"]) == (kind, "Pending", price)
    assert row["ticket"] == result["order"]


async def test_a_market_orders_price_is_ignored(term: Terminal) -> None:
    result = await term.send(symbol="EURUSD", operation="Sell", volume=0.1, price=5.0)
    assert (result["success"], result["price"]) == (True, 1.1)


async def test_a_stop_limit_order_becomes_a_limit_order_then_fills(
    sim: Simulator, term: Terminal
) -> None:
    result = await term.send(
        symbol="EURUSD", operation="BuyStopLimit", volume=0.1, price=1.101, stopLimitPrice=1.1005
    )
    assert result["retcode"] == 10008
    [row] = await term.opened()
    assert row["type"] == "BuyStopLimit"
    await set_price(sim, "EURUSD", 1.10100, 1.10110)  # the stop is crossed
    [row] = await term.opened()
    assert (row["type"], row["kind"], row["openPrice"]) == ("BuyLimit", "Pending", 1.1005)
    await set_price(sim, "EURUSD", 1.10030, 1.10040)  # the limit is reached
    [row] = await term.opened()
    assert (row["kind"], row["openPrice"]) == ("Position", 1.1005)


async def test_a_pending_order_expires(sim: Simulator, term: Terminal) -> None:
    result = await term.send(
        symbol="EURUSD",
        operation="BuyLimit",
        volume=0.1,
        price=1.09,
        expiration="2099-01-01T00:00:00",
    )
    assert result["retcode"] == 10008
    past = await term.send(
        symbol="EURUSD", operation="BuyLimit", volume=0.1, price=1.09, expiration="2020-01-01"
    )
    assert (past["success"], past["retcode"]) == (False, 10022)
    ticket = result["order"]
    modified = await term.ok(
        "POST", "/OrderModify", body={"ticket": ticket, "expiration": "2020-01-01T00:00:00"}
    )
    assert modified["retcode"] == 10022
    assert [r["ticket"] for r in await term.opened()] == [ticket]


async def test_broker_refusals_are_order_results(term: Terminal) -> None:
    await refused(term, 10014, symbol="EURUSD", operation="Buy", volume=0.015)
    await refused(term, 10014, symbol="EURUSD", operation="Buy", volume=101)
    await refused(term, 10015, symbol="EURUSD", operation="BuyLimit", volume=0.1, price=1.2)
    await refused(term, 10016, symbol="EURUSD", operation="Buy", volume=0.1, stopLoss=1.2)
    await refused(term, 10016, symbol="EURUSD", operation="Sell", volume=0.1, takeProfit=1.2)
    await refused(term, 10019, symbol="XAUUSD", operation="Buy", volume=100)
    await refused(
        term,
        10015,
        symbol="EURUSD",
        operation="BuyStopLimit",
        volume=0.1,
        price=1.101,
        stopLimitPrice=1.102,
    )
    assert await term.opened() == []


@pytest.mark.parametrize(
    "body",
    [
        {"operation": "Buy", "volume": 0.1},
        {"symbol": "EURUSD", "volume": 0.1},
        {"symbol": "EURUSD", "operation": "Buy"},
        {"symbol": "EURUSD", "operation": "Teleport", "volume": 0.1},
        {"symbol": "NOPE", "operation": "Buy", "volume": 0.1},
        {"symbol": "EURUSD", "operation": "Buy", "volume": 0},
        {"symbol": "EURUSD", "operation": "Buy", "volume": -1},
        {"symbol": "EURUSD", "operation": "Buy", "volume": "1"},
        {"symbol": "EURUSD", "operation": "BuyLimit", "volume": 0.1},
        {"symbol": "EURUSD", "operation": "BuyStopLimit", "volume": 0.1, "price": 1.2},
        {"symbol": "EURUSD", "operation": "Buy", "volume": 0.1, "stopLoss": -1},
        {
            "symbol": "EURUSD",
            "operation": "BuyLimit",
            "volume": 0.1,
            "price": 1.09,
            "expiration": "soon",
        },
    ],
)
async def test_a_request_the_terminal_cannot_read_is_400(term: Terminal, body: Any) -> None:
    assert_terminal_error(await term.post("/OrderSend", body), 400, "MRPC_VALIDATION")


async def test_an_unreadable_body_is_400(term: Terminal) -> None:
    for data in ("{not json", "[]", ""):
        reply = await term.request("POST", "/OrderSend", data=data)
        assert_terminal_error(reply, 400, "MRPC_VALIDATION")
    nested = "[" * 10_000 + "]" * 10_000
    assert_terminal_error(await term.request("POST", "/CloseAll", data=nested), 400)


# ------------------------------------------------------------------ OrderModify


async def test_modify_sets_keeps_and_clears_stops(term: Terminal) -> None:
    ticket = await term.buy(stopLoss=1.09, takeProfit=1.12)
    result = await term.ok("POST", "/OrderModify", body={"ticket": ticket, "takeProfit": 1.13})
    assert (result["success"], result["retcode"], result["order"]) == (True, 10009, ticket)
    [row] = await term.opened()
    assert (row["stopLoss"], row["takeProfit"]) == (1.09, 1.13)
    await term.ok("POST", "/OrderModify", body={"ticket": ticket, "stopLoss": 0.0})
    [row] = await term.opened()
    assert (row["stopLoss"], row["takeProfit"]) == (0.0, 1.13)


async def test_modify_that_changes_nothing_is_no_change(term: Terminal) -> None:
    ticket = await term.buy(stopLoss=1.09)
    for body in ({"ticket": ticket, "stopLoss": 1.09}, {"ticket": ticket}):
        result = await term.ok("POST", "/OrderModify", body=body)
        assert result["success"] is False
        assert (result["outcome"], result["retcode"]) == ("no_change", 10025)


async def test_modify_moves_a_pending_price(term: Terminal) -> None:
    result = await term.send(symbol="EURUSD", operation="BuyLimit", volume=0.1, price=1.09)
    ticket = result["order"]
    moved = await term.ok("POST", "/OrderModify", body={"ticket": ticket, "price": 1.08})
    assert (moved["retcode"], moved["price"]) == (10009, 1.08)
    bad = await term.ok("POST", "/OrderModify", body={"ticket": ticket, "price": 1.2})
    assert (bad["success"], bad["retcode"]) == (False, 10015)


async def test_modify_refusals(term: Terminal) -> None:
    ticket = await term.buy()
    wrong_side = await term.ok("POST", "/OrderModify", body={"ticket": ticket, "stopLoss": 1.2})
    assert wrong_side["retcode"] == 10016
    position_price = await term.ok("POST", "/OrderModify", body={"ticket": ticket, "price": 1.0})
    assert position_price["retcode"] == 10015
    unknown = await term.ok("POST", "/OrderModify", body={"ticket": 7, "stopLoss": 1.0})
    assert (unknown["success"], unknown["retcode"], unknown["order"]) == (False, 10013, 7)
    for body in ({"stopLoss": 1.0}, {"ticket": "x"}, {"ticket": ticket, "stopLoss": -1}):
        assert_terminal_error(await term.post("/OrderModify", body), 400, "MRPC_VALIDATION")


# ------------------------------------------------------------------- OrderClose


async def test_close_a_position(sim: Simulator, term: Terminal) -> None:
    ticket = await term.buy(volume=1.0)
    await set_price(sim, "EURUSD", 1.10110, 1.10120)
    result = await term.ok("POST", "/OrderClose", body={"ticket": ticket})
    assert (result["success"], result["retcode"], result["order"]) == (True, 10009, ticket)
    assert (result["price"], result["volume"]) == (1.1011, 1.0)
    assert result["deal"] > 0
    assert await term.opened() == []
    summary = await term.ok("GET", "/AccountSummary")
    assert summary["balance"] == pytest.approx(10000 + 100 - 7)


async def test_close_part_of_a_position(term: Terminal) -> None:
    ticket = await term.buy(volume=0.3)
    result = await term.ok("POST", "/OrderClose", body={"ticket": ticket, "volume": 0.1})
    assert (result["success"], result["volume"]) == (True, 0.1)
    [row] = await term.opened()
    assert (row["ticket"], row["lots"]) == (ticket, 0.2)
    zero = await term.ok("POST", "/OrderClose", body={"ticket": ticket, "volume": 0})
    assert zero["volume"] == 0.2  # 0 closes all of it
    assert await term.opened() == []


async def test_close_refusals(term: Terminal) -> None:
    ticket = await term.buy(volume=0.2)
    over = await term.ok("POST", "/OrderClose", body={"ticket": ticket, "volume": 0.3})
    assert (over["success"], over["retcode"]) == (False, 10038)
    odd = await term.ok("POST", "/OrderClose", body={"ticket": ticket, "volume": 0.015})
    assert odd["retcode"] == 10014
    unknown = await term.ok("POST", "/OrderClose", body={"ticket": 12345})
    assert unknown["retcode"] == 10013
    assert_terminal_error(await term.post("/OrderClose", {"ticket": ticket, "volume": -1}), 400)
    [row] = await term.opened()
    assert row["lots"] == 0.2
    await term.ok("POST", "/OrderClose", body={"ticket": ticket})
    again = await term.ok("POST", "/OrderClose", body={"ticket": ticket})
    assert again["retcode"] == 10013


async def test_closing_a_pending_ticket_deletes_it(term: Terminal) -> None:
    result = await term.send(symbol="EURUSD", operation="SellLimit", volume=0.1, price=1.11)
    closed = await term.ok("POST", "/OrderClose", body={"ticket": result["order"]})
    assert (closed["success"], closed["retcode"], closed["deal"]) == (True, 10009, 0)
    assert await term.opened() == []
    assert await term.ok("GET", "/OrderHistory") == []  # no deal: nothing filled


# --------------------------------------------------------------------- CloseAll


async def test_close_all_with_filters(term: Terminal) -> None:
    euro = await term.buy("EURUSD", expertId=7)
    manual = await term.buy("EURUSD")
    gold = await term.buy("XAUUSD", volume=0.01, expertId=7)
    pending = (await term.send(symbol="EURUSD", operation="BuyLimit", volume=0.1, price=1.0))[
        "order"
    ]
    summary = await term.ok("POST", "/CloseAll", body={"symbol": "EURUSD", "magic": 0})
    assert (summary["requested"], summary["closed"], summary["failed"]) == (1, 1, 0)
    assert summary["results"] == [
        {
            "ticket": manual,
            "kind": "position",
            "success": True,
            "retcode": 10009,
            "retcodeDescription": summary["results"][0]["retcodeDescription"],
        }
    ]
    summary = await term.ok("POST", "/CloseAll", body={"magic": 7})
    assert [r["ticket"] for r in summary["results"]] == [euro, gold]
    assert [r["ticket"] for r in await term.opened()] == [pending]
    summary = await term.ok("POST", "/CloseAll", body={"deletePending": True})
    assert [(r["ticket"], r["kind"]) for r in summary["results"]] == [(pending, "pending")]
    summary = await term.ok("POST", "/CloseAll", body={})
    assert summary == {"requested": 0, "closed": 0, "failed": 0, "results": []}
    assert_terminal_error(await term.request("POST", "/CloseAll"), 400, "MRPC_VALIDATION")


# ------------------------------------------------------------- deals, history


async def test_deals_and_round_trips(sim: Simulator, term: Terminal) -> None:
    ticket = await term.buy(volume=0.3, expertId=9, comment="bot")
    await term.ok("POST", "/OrderClose", body={"ticket": ticket, "volume": 0.1})
    await set_price(sim, "EURUSD", 1.10100, 1.10110)
    await term.ok("POST", "/OrderClose", body={"ticket": ticket})
    deals = await term.ok("GET", "/OrderHistory")
    assert [(d["entry"], d["type"], d["volume"]) for d in deals] == [
        ("In", "Buy", 0.3),
        ("Out", "Sell", 0.1),
        ("Out", "Sell", 0.2),
    ]
    assert {d["position"] for d in deals} == {ticket}
    assert deals[0]["order"] == ticket
    assert deals[1]["order"] != ticket  # a close is an order of its own (MT5)
    assert len({d["ticket"] for d in deals}) == 3
    assert (deals[0]["magic"], deals[0]["comment"]) == (9, "bot")
    assert (deals[1]["magic"], deals[1]["comment"]) == (0, "")  # MT5: an exit carries neither
    assert [d["commission"] for d in deals] == [0.0, -0.7, -1.4]
    assert deals[2]["profit"] == pytest.approx(18.0)
    [trip] = await term.ok("GET", "/PositionHistory")
    assert (trip["positionId"], trip["type"], trip["volume"]) == (ticket, "Buy", 0.3)
    assert trip["openPrice"] == 1.1001
    assert trip["closePrice"] == pytest.approx((1.1 * 0.1 + 1.101 * 0.2) / 0.3)
    assert trip["profit"] == pytest.approx(deals[1]["profit"] + deals[2]["profit"])
    assert trip["commission"] == pytest.approx(-2.1)
    assert trip["netProfit"] == pytest.approx(trip["profit"] + trip["commission"] + trip["swap"])
    assert (trip["magic"], trip["comment"]) == (9, "bot")


async def test_a_stop_hit_closes_with_a_deal_that_says_so(sim: Simulator, term: Terminal) -> None:
    ticket = await term.buy(stopLoss=1.095)
    await set_price(sim, "EURUSD", 1.09400, 1.09410)
    assert await term.opened() == []
    out = (await term.ok("GET", "/OrderHistory"))[-1]
    assert (out["entry"], out["position"], out["comment"]) == ("Out", ticket, "[sl 1.095]")


async def test_mt4_deals(http: aiohttp.ClientSession, api: Api) -> None:
    account = await connected_account(api, platform="mt4")
    term = Terminal(http, account)
    result = await term.send(symbol="EURUSD", operation="Buy", volume=0.2, expertId=3, comment="k")
    assert result["deal"] == 0  # MT4 has no deals
    ticket = result["order"]
    closed = await term.ok("POST", "/OrderClose", body={"ticket": ticket, "volume": 0.1})
    assert closed["deal"] == 0
    [row] = await term.ok("GET", "/OrderHistory")  # one row per close of an order
    assert (row["ticket"], row["order"], row["position"]) == (ticket, ticket, ticket)
    assert (row["type"], row["entry"], row["volume"]) == ("Buy", "Out", 0.1)
    assert (row["magic"], row["comment"]) == (3, "k")  # MT4 keeps them


# ---------------------------------------------------------------- one engine


async def test_an_order_placed_in_one_dialect_shows_in_the_other(
    api: Api, term: Terminal, account: dict[str, Any]
) -> None:
    ticket = await term.buy(volume=0.1)
    [position] = await api.positions(account["id"])
    assert position["id"] == f"ord_{ticket}"
    placed = await api.order(
        account["id"], symbol="EURUSD", type="SELL_LIMIT", volume=0.2, price=1.2
    )
    assert placed.status == 200, placed
    reference_id = placed.body["id"]
    rows = await term.opened()
    assert [f"ord_{r['ticket']}" for r in rows] == [position["id"], reference_id]
    # Closed through the terminal, gone from the reference routes; and the other way.
    await term.ok("POST", "/OrderClose", body={"ticket": ticket})
    assert await api.positions(account["id"]) == []
    closed = await api.delete(acc(account["id"], f"orders/{reference_id}"))
    assert closed.body["status"] == "cancelled"
    assert await term.opened() == []
    trades = (await api.history(account["id"]))["trades"]
    assert [t["id"] for t in trades] == [position["id"], reference_id]


async def test_a_partial_close_shows_in_the_reference_dialect(
    sim: Simulator, api: Api, term: Terminal, account: dict[str, Any]
) -> None:
    ticket = await term.buy(volume=0.5)
    await term.ok("POST", "/OrderClose", body={"ticket": ticket, "volume": 0.2})
    [position] = await api.positions(account["id"])
    assert position["volume"] == 0.3
    events = [
        e for e in await steer(sim.ledger(account["id"])) if type(e).__name__.startswith("Order")
    ]
    partial = events[-1]
    assert type(partial).__name__ == "OrderPartiallyClosed"
    assert (partial.data.id, partial.data.volume, partial.data.remaining) == (
        f"ord_{ticket}",
        0.2,
        0.3,
    )
    [trade] = (await api.history(account["id"]))["trades"]
    assert (trade["id"], trade["volume"]) == (f"ord_{ticket}", 0.2)
