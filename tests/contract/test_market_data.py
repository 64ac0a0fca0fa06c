"""Quotes and candles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator

from .helpers import (
    TIMEFRAME_SECONDS,
    TIMEFRAMES,
    Api,
    acc,
    assert_error,
    config,
    parse_time,
    set_price,
    steer,
)

pytestmark = pytest.mark.anyio

CANDLE_FIELDS = {"time", "open", "high", "low", "close", "volume"}
PAST_FROM = "2024-03-04T00:00:00Z"  # a Monday, long before any simulator started
PAST_TO = "2024-03-05T23:00:00Z"


async def candles(api: Api, account_id: str, symbol: str = "EURUSD", **params: Any) -> Any:
    reply = await api.get(
        acc(account_id, f"candles/{symbol}"), params={k: str(v) for k, v in params.items()}
    )
    assert reply.status == 200, reply
    assert reply.body["symbol"] == symbol
    assert reply.body["timeframe"] == params["timeframe"]
    return reply.body["candles"]


def times(bars: list[dict[str, Any]]) -> list[datetime]:
    return [parse_time(bar["time"]) for bar in bars]


def assert_aligned(timeframe: str, when: datetime) -> None:
    assert (when.second, when.microsecond) == (0, 0), when
    if timeframe in TIMEFRAME_SECONDS and TIMEFRAME_SECONDS[timeframe] < 86400:
        minutes = TIMEFRAME_SECONDS[timeframe] // 60
        assert (when.hour * 60 + when.minute) % minutes == 0, (timeframe, when)
        return
    assert (when.hour, when.minute) == (0, 0), (timeframe, when)
    if timeframe == "W1":
        assert when.weekday() == 0, when
    if timeframe == "MN":
        assert when.day == 1, when


def assert_contiguous(timeframe: str, stamps: list[datetime]) -> None:
    for earlier, later in pairwise(stamps):
        if timeframe == "MN":
            assert (later.year * 12 + later.month) - (earlier.year * 12 + earlier.month) == 1
        else:
            assert (later - earlier).total_seconds() == TIMEFRAME_SECONDS[timeframe], (
                earlier,
                later,
            )


# -------------------------------------------------------------------------- quotes


async def test_quote_has_contract_fields(api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10020)
    body = await api.quote(account_id)
    assert {"symbol", "bid", "ask", "spread", "time"} <= body.keys()
    assert body["symbol"] == "EURUSD"
    assert body["bid"] == pytest.approx(1.10000, abs=1e-9)
    assert body["ask"] == pytest.approx(1.10020, abs=1e-9)
    assert body["spread"] == pytest.approx(2.0)  # in pips
    parse_time(body["time"])


async def test_quote_spread_is_in_pips_for_jpy(api: Api, account_id: str) -> None:
    await set_price(api.sim, "USDJPY", 150.000, 150.015)
    body = await api.quote(account_id, "USDJPY")
    assert body["spread"] == pytest.approx(1.5)


async def test_every_builtin_symbol_has_a_quote(api: Api, account_id: str) -> None:
    for symbol in ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD"):
        body = await api.quote(account_id, symbol)
        assert body["symbol"] == symbol
        assert 0 < body["bid"] < body["ask"], body


async def test_tick_moves_the_quote(api: Api, account_id: str) -> None:
    before = await api.quote(account_id)
    moved = False
    for _ in range(20):  # a random-walk step may round to the same price
        await steer(api.sim.tick(["EURUSD"]))
        after = await api.quote(account_id)
        if (after["bid"], after["ask"]) != (before["bid"], before["ask"]):
            moved = True
            break
    assert moved


async def test_set_price_ask_defaults_to_bid_plus_current_spread(api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.10000, 1.10020)
    await set_price(api.sim, "EURUSD", 1.20000)
    body = await api.quote(account_id)
    assert body["bid"] == pytest.approx(1.20000, abs=1e-9)
    assert body["ask"] == pytest.approx(1.20020, abs=1e-9)


async def test_quote_of_unknown_symbol_is_refused(api: Api, account_id: str) -> None:
    reply = await api.get(acc(account_id, "quotes/NOPE"))
    assert reply.status in (400, 404), reply
    assert_error(reply, reply.status, "invalid_symbol" if reply.status == 400 else None)


# ------------------------------------------------------------------------- candles


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
async def test_recent_candles_of_every_timeframe(api: Api, account_id: str, timeframe: str) -> None:
    bars = await candles(api, account_id, timeframe=timeframe, limit=5)
    assert len(bars) == 5
    for bar in bars:
        assert bar.keys() >= CANDLE_FIELDS, bar
        assert bar["low"] <= min(bar["open"], bar["close"]) <= bar["high"], bar
        assert bar["high"] >= max(bar["open"], bar["close"]), bar
        assert isinstance(bar["volume"], int), bar
        assert bar["volume"] >= 0, bar
    stamps = times(bars)
    for stamp in stamps:
        assert_aligned(timeframe, stamp)
    assert stamps == sorted(stamps)
    assert_contiguous(timeframe, stamps)
    assert stamps[-1] <= datetime.now(UTC) + timedelta(minutes=1)


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
async def test_newest_bar_is_the_current_one(api: Api, account_id: str, timeframe: str) -> None:
    bars = await candles(api, account_id, timeframe=timeframe, limit=2)
    now = datetime.now(UTC)
    last = times(bars)[-1]
    if timeframe == "MN":
        assert (last.year, last.month) == (now.year, now.month)
    else:
        assert now - last < timedelta(seconds=TIMEFRAME_SECONDS[timeframe] + 60), (now, last)


async def test_current_bar_is_built_from_ticks(api: Api, account_id: str) -> None:
    await set_price(api.sim, "EURUSD", 1.23456, 1.23466)
    bar = (await candles(api, account_id, timeframe="M1", limit=1))[-1]
    assert bar["close"] == pytest.approx(1.23456, abs=1e-9)  # bid-price bars
    assert bar["high"] >= 1.23456 - 1e-9


async def test_past_range_is_bounded_by_from_and_to(api: Api, account_id: str) -> None:
    bars = await candles(api, account_id, timeframe="H1", **{"from": PAST_FROM, "to": PAST_TO})
    stamps = times(bars)
    assert stamps[0] == parse_time(PAST_FROM)
    assert parse_time(PAST_TO) - timedelta(hours=1) <= stamps[-1] <= parse_time(PAST_TO)
    assert_contiguous("H1", stamps)
    assert len(bars) in (47, 48)


async def test_limit_caps_a_range_from_its_start(api: Api, account_id: str) -> None:
    bars = await candles(
        api, account_id, timeframe="H1", limit=10, **{"from": PAST_FROM, "to": PAST_TO}
    )
    stamps = times(bars)
    assert len(bars) == 10
    assert stamps[0] == parse_time(PAST_FROM)
    assert_contiguous("H1", stamps)


async def test_monthly_bars_are_calendar_months(api: Api, account_id: str) -> None:
    bars = await candles(
        api,
        account_id,
        timeframe="MN",
        **{"from": "2023-01-01T00:00:00Z", "to": "2023-12-01T00:00:00Z"},
    )
    stamps = times(bars)
    assert [(s.year, s.month, s.day) for s in stamps] == [(2023, m, 1) for m in range(1, 13)]


async def test_weekly_bars_start_on_monday(api: Api, account_id: str) -> None:
    bars = await candles(
        api,
        account_id,
        timeframe="W1",
        **{"from": "2024-01-01T00:00:00Z", "to": "2024-02-26T00:00:00Z"},
    )
    stamps = times(bars)
    assert len(stamps) == 9
    assert all(s.weekday() == 0 and (s.hour, s.minute) == (0, 0) for s in stamps)
    assert_contiguous("W1", stamps)


async def test_past_range_is_identical_for_the_same_seed(http: aiohttp.ClientSession) -> None:
    results = []
    for _ in range(2):
        async with Simulator(config(seed=42)) as sim:
            api = Api(http, sim)
            account_id = (await api.link_connected())["id"]
            results.append(
                await candles(
                    api, account_id, timeframe="M15", **{"from": PAST_FROM, "to": PAST_TO}
                )
            )
    assert results[0]
    assert results[0] == results[1]


async def test_past_range_differs_for_another_seed(http: aiohttp.ClientSession) -> None:
    results = []
    for seed in (42, 43):
        async with Simulator(config(seed=seed)) as sim:
            api = Api(http, sim)
            account_id = (await api.link_connected())["id"]
            results.append(
                await candles(api, account_id, timeframe="H1", **{"from": PAST_FROM, "to": PAST_TO})
            )
    assert results[0] != results[1]


async def test_past_range_reads_the_same_twice(api: Api, account_id: str) -> None:
    query = {"timeframe": "M1", "from": PAST_FROM, "to": "2024-03-04T03:00:00Z"}
    assert await candles(api, account_id, **query) == await candles(api, account_id, **query)


async def test_paging_a_long_range_gives_contiguous_bars(api: Api, account_id: str) -> None:
    start, end = parse_time("2024-01-01T00:00:00Z"), parse_time("2024-01-31T00:00:00Z")
    collected: list[dict[str, Any]] = []
    cursor = start
    for _ in range(50):
        page = await candles(
            api,
            account_id,
            timeframe="H1",
            limit=100,
            **{"from": cursor.strftime("%Y-%m-%dT%H:%M:%SZ"), "to": "2024-01-31T00:00:00Z"},
        )
        fresh = [bar for bar in page if not collected or parse_time(bar["time"]) > cursor]
        collected.extend(fresh)
        if not fresh:
            break
        cursor = parse_time(collected[-1]["time"])
        if cursor >= end:
            break
    stamps = times(collected)
    assert stamps[0] == start
    assert stamps[-1] == end
    assert_contiguous("H1", stamps)
    assert len(stamps) == 30 * 24 + 1


async def test_paged_bars_equal_one_big_read(api: Api, account_id: str) -> None:
    query = {"timeframe": "H1", "from": PAST_FROM, "to": PAST_TO}
    whole = await candles(api, account_id, **query)
    first = await candles(api, account_id, limit=20, **query)
    second = await candles(api, account_id, limit=20, **{**query, "from": first[-1]["time"]})
    second = [bar for bar in second if bar["time"] != first[-1]["time"]]
    assert first + second == whole[: len(first) + len(second)]


async def test_unknown_timeframe_is_400(api: Api, account_id: str) -> None:
    reply = await api.get(acc(account_id, "candles/EURUSD"), params={"timeframe": "H2"})
    assert_error(reply, 400)


async def test_from_after_to_is_400(api: Api, account_id: str) -> None:
    reply = await api.get(
        acc(account_id, "candles/EURUSD"),
        params={"timeframe": "H1", "from": PAST_TO, "to": PAST_FROM},
    )
    assert_error(reply, 400)


async def test_unreadable_time_is_400(api: Api, account_id: str) -> None:
    reply = await api.get(
        acc(account_id, "candles/EURUSD"), params={"timeframe": "H1", "from": "yesterday"}
    )
    assert_error(reply, 400)


@pytest.mark.parametrize("limit", ["0", "-1", "abc"])
async def test_invalid_candle_limit_is_400(api: Api, account_id: str, limit: str) -> None:
    reply = await api.get(
        acc(account_id, "candles/EURUSD"), params={"timeframe": "H1", "limit": limit}
    )
    assert_error(reply, 400)


async def test_candles_of_unknown_symbol_are_refused(api: Api, account_id: str) -> None:
    reply = await api.get(acc(account_id, "candles/NOPE"), params={"timeframe": "H1"})
    assert reply.status in (400, 404), reply
    assert_error(reply, reply.status)


async def test_without_from_the_last_bars_up_to_to(api: Api, account_id: str) -> None:
    bars = await candles(api, account_id, timeframe="H1", limit=5, to=PAST_TO)
    stamps = times(bars)
    assert len(stamps) == 5
    assert stamps[-1] == parse_time(PAST_TO)
    assert_contiguous("H1", stamps)


async def test_default_candle_limit_is_500(api: Api, account_id: str) -> None:
    bars = await candles(api, account_id, timeframe="M1", to=PAST_TO)
    assert len(bars) == 500


async def test_candle_limit_over_1000_is_refused(api: Api, account_id: str) -> None:
    # "at most 1000": the simulator may refuse (400) or clamp.
    reply = await api.get(
        acc(account_id, "candles/EURUSD"), params={"timeframe": "M1", "limit": "1001"}
    )
    if reply.status == 200:
        assert len(reply.body["candles"]) == 1000
    else:
        assert_error(reply, 400)


async def test_quote_time_is_broker_time(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(broker_utc_offset=3.0)) as sim:
        api = Api(http, sim)
        account_id = (await api.link_connected())["id"]
        await set_price(sim, "EURUSD", 1.1)
        body = await api.quote(account_id)
    assert body["time"].endswith("Z")
    shift = parse_time(body["time"]) - datetime.now(UTC)
    assert abs(shift - timedelta(hours=3)) < timedelta(minutes=1), shift
