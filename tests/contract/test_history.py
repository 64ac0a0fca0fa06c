"""GET .../history: closed trades, cancelled orders, filters and paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .helpers import TRADE_FIELDS, Api, acc, assert_error, iso, parse_time, set_price

pytestmark = pytest.mark.anyio

# symbol, type, volume
TRADES = [
    ("EURUSD", "BUY", 0.1),
    ("EURUSD", "SELL", 0.2),
    ("EURUSD", "BUY", 0.3),
    ("XAUUSD", "BUY", 0.1),
    ("XAUUSD", "SELL", 0.1),
    ("GBPUSD", "SELL", 0.5),
    ("EURUSD", "SELL", 0.1),
]


@pytest.fixture
async def closed(api: Api, account_id: str) -> list[dict[str, Any]]:
    """Seven trades opened and closed; returns the close replies in order."""
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    await set_price(api.sim, "XAUUSD", 2000.00, 2000.50)
    await set_price(api.sim, "GBPUSD", 1.25000, 1.25020)
    replies = []
    for symbol, kind, volume in TRADES:
        order = await api.order(account_id, symbol=symbol, type=kind, volume=volume)
        assert order.status in (200, 201), order
        replies.append(await api.close(account_id, order.body["id"]))
    return replies


async def test_empty_history(api: Api, account_id: str) -> None:
    body = await api.history(account_id)
    assert body["trades"] == []
    assert body["total"] == 0


async def test_closed_trades_are_listed_with_contract_fields(
    api: Api, account_id: str, closed: list[dict[str, Any]]
) -> None:
    body = await api.history(account_id)
    assert body["total"] == len(TRADES)
    assert len(body["trades"]) == len(TRADES)
    by_id = {t["id"]: t for t in body["trades"]}
    assert by_id.keys() == {c["id"] for c in closed}
    for reply, (symbol, kind, volume) in zip(closed, TRADES, strict=True):
        trade = by_id[reply["id"]]
        assert trade.keys() >= TRADE_FIELDS, trade
        assert (trade["symbol"], trade["type"], trade["volume"]) == (symbol, kind, volume)
        assert trade["close_price"] == pytest.approx(reply["close_price"], abs=1e-9)
        assert trade["profit"] == pytest.approx(reply["profit"], abs=0.01)
        assert trade["commission"] == pytest.approx(-7.0 * volume)
        assert trade["swap"] == pytest.approx(0.0)
        assert parse_time(trade["opened_at"]) <= parse_time(trade["closed_at"])
        assert trade.get("status", "closed") == "closed"


async def test_total_counts_all_matches_beyond_the_page(
    api: Api, account_id: str, closed: list[dict[str, Any]]
) -> None:
    body = await api.history(account_id, limit=2)
    assert len(body["trades"]) == 2
    assert body["total"] == len(TRADES)


async def test_paging_covers_every_trade_exactly_once(
    api: Api, account_id: str, closed: list[dict[str, Any]]
) -> None:
    seen: list[str] = []
    for offset in range(0, 20, 3):
        page = await api.history(account_id, offset=offset, limit=3)
        assert page["total"] == len(TRADES)
        seen.extend(t["id"] for t in page["trades"])
        if len(page["trades"]) < 3:
            break
    assert sorted(seen) == sorted(c["id"] for c in closed)
    assert len(seen) == len(set(seen))


async def test_offset_beyond_the_end_is_an_empty_page(
    api: Api, account_id: str, closed: list[dict[str, Any]]
) -> None:
    body = await api.history(account_id, offset=100)
    assert body["trades"] == []
    assert body["total"] == len(TRADES)


async def test_symbol_filter(api: Api, account_id: str, closed: list[dict[str, Any]]) -> None:
    body = await api.history(account_id, symbol="XAUUSD")
    assert body["total"] == 2
    assert {t["symbol"] for t in body["trades"]} == {"XAUUSD"}


async def test_type_filter(api: Api, account_id: str, closed: list[dict[str, Any]]) -> None:
    body = await api.history(account_id, type="SELL")
    assert body["total"] == 4
    assert {t["type"] for t in body["trades"]} == {"SELL"}


@pytest.mark.parametrize("order_type", ["AAA", "buy", "BUY,SELL", " BUY"])
async def test_unknown_type_filter_is_invalid_type_listing_the_types(
    api: Api, account_id: str, order_type: str
) -> None:
    reply = await api.get(acc(account_id, "history"), params={"type": order_type})
    assert_error(reply, 400, "invalid_type")
    for known in ("BUY", "SELL", "BUY_LIMIT", "SELL_LIMIT", "BUY_STOP", "SELL_STOP"):
        assert known in reply.body["message"], reply


async def test_pending_type_filter_finds_cancelled_orders(api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    order = await api.order(account_id, symbol="EURUSD", type="SELL_STOP", volume=0.1, price=1.09)
    await api.delete(acc(account_id, f"orders/{order.body['id']}"))
    assert (await api.history(account_id, type="SELL_STOP"))["total"] == 1
    assert (await api.history(account_id, type="SELL"))["total"] == 0


async def test_symbol_and_type_filters_combine(
    api: Api, account_id: str, closed: list[dict[str, Any]]
) -> None:
    body = await api.history(account_id, symbol="EURUSD", type="BUY")
    assert body["total"] == 2
    assert {(t["symbol"], t["type"]) for t in body["trades"]} == {("EURUSD", "BUY")}


async def test_time_window_around_now_holds_every_trade(
    api: Api, account_id: str, closed: list[dict[str, Any]]
) -> None:
    now = datetime.now(UTC)
    body = await api.history(
        account_id, **{"from": iso(now - timedelta(hours=1)), "to": iso(now + timedelta(hours=1))}
    )
    assert body["total"] == len(TRADES)


async def test_from_in_the_future_matches_nothing(
    api: Api, account_id: str, closed: list[dict[str, Any]]
) -> None:
    body = await api.history(account_id, **{"from": iso(datetime.now(UTC) + timedelta(hours=1))})
    assert (body["trades"], body["total"]) == ([], 0)


async def test_to_in_the_past_matches_nothing(
    api: Api, account_id: str, closed: list[dict[str, Any]]
) -> None:
    body = await api.history(account_id, to=iso(datetime.now(UTC) - timedelta(hours=1)))
    assert (body["trades"], body["total"]) == ([], 0)


async def test_limit_over_1000_is_refused(api: Api, account_id: str) -> None:
    # The contract says "at most 1000"; the simulator may refuse (400) or clamp.
    reply = await api.get(acc(account_id, "history"), params={"limit": "1001"})
    if reply.status == 200:
        assert reply.body["total"] == 0
    else:
        assert_error(reply, 400)


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "-5"}, {"offset": "-1"}])
async def test_invalid_paging_is_400(api: Api, account_id: str, params: dict[str, str]) -> None:
    assert_error(await api.get(acc(account_id, "history"), params=params), 400)


async def test_unreadable_time_is_400(api: Api, account_id: str) -> None:
    reply = await api.get(acc(account_id, "history"), params={"from": "last tuesday"})
    assert_error(reply, 400)


async def test_cancelled_pending_order_is_listed_as_cancelled(api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    order = await api.order(account_id, symbol="EURUSD", type="BUY_LIMIT", volume=0.1, price=1.09)
    cancelled = await api.delete(acc(account_id, f"orders/{order.body['id']}"))
    assert cancelled.body["status"] == "cancelled"
    body = await api.history(account_id)
    assert body["total"] == 1
    (trade,) = body["trades"]
    assert trade["id"] == order.body["id"]
    assert trade["status"] == "cancelled"
    assert trade["type"] == "BUY_LIMIT"
    # Every field of the contract is there; those a cancellation has none of are
    # null or zero (docs/protocol.md, section 3).
    assert TRADE_FIELDS | {"status"} == trade.keys()
    assert trade["close_price"] is None
    assert trade["profit"] == trade["commission"] == trade["swap"] == 0
    assert trade["open_price"] == pytest.approx(1.09)
    assert parse_time(trade["opened_at"]) <= parse_time(trade["closed_at"])


async def test_filled_pending_order_is_listed_once_when_closed(api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10010)
    order = await api.order(account_id, symbol="EURUSD", type="BUY_LIMIT", volume=0.1, price=1.099)
    await set_price(api.sim, "EURUSD", 1.09880, 1.09890)
    await api.close(account_id, order.body["id"])
    body = await api.history(account_id)
    assert [t["id"] for t in body["trades"]] == [order.body["id"]]
    assert body["trades"][0]["open_price"] == pytest.approx(1.099, abs=1e-9)
