"""Unit tests of the simulator's market engine (synchronous, fake clock)."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from fxsocket_async._core.models import TIMEFRAMES, Candle
from fxsocket_async.simulator._market import (
    DEFAULT_SYMBOLS,
    Market,
    SymbolSpec,
    align,
    next_bar,
    symbol_specs,
)

# A Wednesday, mid-hour, so every timeframe's bar starts somewhere else.
START = datetime(2024, 3, 13, 14, 37, 25, 500_000, tzinfo=UTC)
EURUSD, GBPUSD, USDJPY, XAUUSD = DEFAULT_SYMBOLS
STEP = {
    "M1": timedelta(minutes=1),
    "M5": timedelta(minutes=5),
    "M15": timedelta(minutes=15),
    "M30": timedelta(minutes=30),
    "H1": timedelta(hours=1),
    "H4": timedelta(hours=4),
    "D1": timedelta(days=1),
    "W1": timedelta(weeks=1),
}


class Clock:
    """A fake broker clock the tests move by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def make_market(seed: int = 7, now: datetime = START, **kwargs: int) -> tuple[Market, Clock]:
    clock = Clock(now)
    return Market(DEFAULT_SYMBOLS, seed=seed, now=clock, **kwargs), clock


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def ohlcv(candle: Candle) -> tuple[float, float, float, float, int]:
    return candle.open, candle.high, candle.low, candle.close, int(candle.volume)


# ------------------------------------------------------------------- timeframes


@pytest.mark.parametrize(
    ("timeframe", "start", "following"),
    [
        ("M1", utc(2024, 3, 13, 14, 37), utc(2024, 3, 13, 14, 38)),
        ("M5", utc(2024, 3, 13, 14, 35), utc(2024, 3, 13, 14, 40)),
        ("M15", utc(2024, 3, 13, 14, 30), utc(2024, 3, 13, 14, 45)),
        ("M30", utc(2024, 3, 13, 14, 30), utc(2024, 3, 13, 15, 0)),
        ("H1", utc(2024, 3, 13, 14), utc(2024, 3, 13, 15)),
        ("H4", utc(2024, 3, 13, 12), utc(2024, 3, 13, 16)),
        ("D1", utc(2024, 3, 13), utc(2024, 3, 14)),
        ("W1", utc(2024, 3, 11), utc(2024, 3, 18)),  # Mondays
        ("MN", utc(2024, 3, 1), utc(2024, 4, 1)),
    ],
)
def test_align_and_next_bar(timeframe: str, start: datetime, following: datetime) -> None:
    assert align(START, timeframe) == start
    assert align(start, timeframe) == start  # a bar start is its own bar
    assert align(following - timedelta(microseconds=1), timeframe) == start
    assert next_bar(start, timeframe) == following
    assert next_bar(START, timeframe) == following
    assert align(start, timeframe).tzinfo is UTC


def test_all_timeframes_are_covered() -> None:
    for timeframe in TIMEFRAMES:
        assert align(START, timeframe) <= START < next_bar(START, timeframe)


def test_month_rollover_and_month_lengths() -> None:
    assert align(utc(2024, 12, 31, 23, 59, 59), "MN") == utc(2024, 12, 1)
    assert next_bar(utc(2024, 12, 15), "MN") == utc(2025, 1, 1)
    assert next_bar(utc(2024, 1, 31), "MN") == utc(2024, 2, 1)
    assert next_bar(utc(2024, 2, 1), "MN") == utc(2024, 3, 1)


def test_weeks_start_on_monday() -> None:
    assert align(utc(2024, 3, 17, 23, 59), "W1") == utc(2024, 3, 11)  # Sunday night
    assert align(utc(2024, 3, 18), "W1") == utc(2024, 3, 18)  # Monday midnight
    assert align(utc(1970, 1, 1), "W1") == utc(1969, 12, 29)  # before the first Monday
    for day in range(1, 29):
        assert align(utc(2023, 2, day, 12), "W1").weekday() == 0


def test_align_takes_naive_as_utc_and_converts_other_zones() -> None:
    assert align(datetime(2024, 3, 13, 14, 37, 25), "H1") == utc(2024, 3, 13, 14)
    plus_two = timezone(timedelta(hours=2))
    assert align(datetime(2024, 3, 14, 1, 30, tzinfo=plus_two), "D1") == utc(2024, 3, 13)


def test_unknown_timeframe_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="allowed: M1, M5"):
        align(START, "H2")
    with pytest.raises(ValueError, match="unknown timeframe"):
        next_bar(START, "m1")


# ---------------------------------------------------------------------- symbols


def test_default_symbols() -> None:
    assert [s.name for s in DEFAULT_SYMBOLS] == ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"]
    assert EURUSD.digits == 5
    assert EURUSD.point == pytest.approx(1e-5)
    assert EURUSD.pip == pytest.approx(1e-4)
    assert USDJPY.digits == 3
    assert USDJPY.pip == pytest.approx(0.01)
    assert XAUUSD.pip == pytest.approx(0.1)
    assert (XAUUSD.contract_size, XAUUSD.base, XAUUSD.quote, XAUUSD.digits) == (
        100,
        "XAU",
        "USD",
        2,
    )
    assert EURUSD.round(1.0850049) == 1.085
    assert XAUUSD.round(2350.456) == 2350.46


def test_symbol_specs_picks_by_name() -> None:
    assert symbol_specs(["XAUUSD", "EURUSD", "XAUUSD"]) == (XAUUSD, EURUSD)
    with pytest.raises(ValueError, match=r"'BTCUSD'.*known: EURUSD, GBPUSD, USDJPY, XAUUSD"):
        symbol_specs(["EURUSD", "BTCUSD"])


def test_symbol_spec_validates() -> None:
    with pytest.raises(ValueError, match="spread_points"):
        SymbolSpec("X", 5, 1, "A", "B", 1.0, (5, 2), 0.01)
    with pytest.raises(ValueError, match="start_price"):
        SymbolSpec("X", 5, 1, "A", "B", 0.0, (1, 2), 0.01)


def test_market_refuses_duplicate_or_no_symbols() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Market([EURUSD, EURUSD], seed=1, now=Clock())
    with pytest.raises(ValueError, match="at least one"):
        Market([], seed=1, now=Clock())


# --------------------------------------------------------------------- backfill


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
def test_backfill_is_deterministic_and_independent_of_start_time(timeframe: str) -> None:
    market_a, _ = make_market(seed=7)
    market_b, _ = make_market(seed=7, now=START + timedelta(days=200))
    end = align(START, timeframe) - timedelta(microseconds=1)  # before both straddling bars
    for symbol in ("EURUSD", "XAUUSD"):
        bars_a = market_a.candles(symbol, timeframe, end=end, limit=50)
        bars_b = market_b.candles(symbol, timeframe, end=end, limit=50)
        assert len(bars_a) == 50
        assert bars_a == bars_b


def test_backfill_depends_on_seed_and_symbol() -> None:
    market_a, _ = make_market(seed=7)
    market_b, _ = make_market(seed=8)
    assert market_a.candles("EURUSD", "H1", limit=20) != market_b.candles("EURUSD", "H1", limit=20)
    closes = [c.close for c in market_a.candles("EURUSD", "D1", limit=20)]
    gbp = [c.close for c in market_a.candles("GBPUSD", "D1", limit=20)]
    assert [b / a for a, b in itertools.pairwise(closes)] != [
        b / a for a, b in itertools.pairwise(gbp)
    ]


def test_backfill_is_the_same_in_another_process() -> None:
    # Guards against Python's per-process hash() or global random state.
    code = (
        "from datetime import datetime, UTC\n"
        "from fxsocket_async.simulator._market import Market, DEFAULT_SYMBOLS\n"
        "m = Market(DEFAULT_SYMBOLS, seed=7, now=lambda: datetime(2024, 3, 13, 14, tzinfo=UTC))\n"
        "print(repr([(c.time.isoformat(), c.open, c.high, c.low, c.close, c.volume)"
        " for c in m.candles('GBPUSD', 'M5', limit=5)]))\n"
        "print(repr([(q.bid, q.ask) for q in (m.step() + m.step())]))\n"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        outputs.add(result.stdout)
    market = Market(DEFAULT_SYMBOLS, seed=7, now=lambda: utc(2024, 3, 13, 14))
    bars = market.candles("GBPUSD", "M5", limit=5)
    quotes = market.step() + market.step()
    expected = (
        repr([(c.time.isoformat(), c.open, c.high, c.low, c.close, c.volume) for c in bars])
        + "\n"
        + repr([(q.bid, q.ask) for q in quotes])
        + "\n"
    )
    assert outputs == {expected}


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
def test_backfill_bars_join_and_are_well_formed(timeframe: str) -> None:
    market, _ = make_market()
    for spec in DEFAULT_SYMBOLS:
        bars = market.candles(spec.name, timeframe, limit=300)
        assert len(bars) == 300
        for before, after in itertools.pairwise(bars):
            assert after.open == before.close
            assert after.time == next_bar(before.time, timeframe)
        for bar in bars:
            assert bar.high >= max(bar.open, bar.close)
            assert bar.low <= min(bar.open, bar.close)
            assert bar.low > 0
            assert bar.volume >= 1
            for price in (bar.open, bar.high, bar.low, bar.close):
                assert price == round(price, spec.digits)


def test_backfill_timeframes_agree_at_shared_boundaries() -> None:
    market, _ = make_market()
    end = utc(2024, 2, 29)
    days = {c.time: c for c in market.candles("EURUSD", "D1", end=end, limit=120)}
    months = market.candles("EURUSD", "MN", end=end, limit=3)
    hours = {c.time: c for c in market.candles("EURUSD", "H1", end=end, limit=200)}
    for month in months:
        if month.time in days:
            assert days[month.time].open == month.open
    for time, day in days.items():
        if time in hours:
            assert hours[time].open == day.open


def test_backfill_moves_like_the_daily_volatility() -> None:
    market, _ = make_market()
    for spec in DEFAULT_SYMBOLS:
        closes = [c.close for c in market.candles(spec.name, "D1", limit=1000)]
        returns = [math.log(b / a) for a, b in itertools.pairwise(closes)]
        mean = sum(returns) / len(returns)
        sigma = math.sqrt(sum((r - mean) ** 2 for r in returns) / len(returns))
        assert 0.6 * spec.daily_volatility < sigma < 1.6 * spec.daily_volatility, spec.name
        assert 0.5 * spec.start_price < min(closes) <= max(closes) < 1.5 * spec.start_price


@pytest.mark.parametrize("timeframe", ["MN", "W1", "M1"])
def test_a_thousand_bars_of_long_and_short_timeframes(timeframe: str) -> None:
    market, _ = make_market()
    last = market.candles("XAUUSD", timeframe, limit=1000)
    assert len(last) == 1000
    first = market.candles("XAUUSD", timeframe, start=last[0].time, limit=1000)
    assert first == last


# ----------------------------------------------------------------- live prices


def test_live_prices_start_where_history_ends() -> None:
    market, _ = make_market()
    for spec in DEFAULT_SYMBOLS:
        quote = market.quote(spec.name)
        assert quote.time == START == market.started_at
        assert quote.symbol == spec.name
        current = market.candles(spec.name, "M1", limit=2)
        assert current[-1].time == align(START, "M1")
        assert current[-1].close == quote.bid
        assert current[-1].open == current[0].close
        assert abs(quote.bid / spec.start_price - 1) < 0.5


def test_quote_spread_is_in_pips() -> None:
    market, _ = make_market()
    quote = market.set_price("EURUSD", 1.10000, 1.10013)
    assert quote.spread == 1.3
    quote = market.set_price("USDJPY", 150.000, 150.021)
    assert quote.spread == 2.1
    quote = market.set_price("XAUUSD", 2350.00, 2350.35)
    assert quote.spread == 3.5


def test_steps_stay_on_digits_and_in_the_spread_range() -> None:
    market, clock = make_market()
    for _ in range(200):
        clock.advance(seconds=0.25)
        for quote in market.step():
            spec = market.specs[quote.symbol]
            assert quote.time == clock.now
            assert quote.bid == round(quote.bid, spec.digits)
            assert quote.ask == round(quote.ask, spec.digits)
            low, high = spec.spread_points
            assert low <= round((quote.ask - quote.bid) / spec.point) <= high
            assert quote.spread == round((quote.ask - quote.bid) / spec.pip, 1)
            assert market.quote(quote.symbol) == quote


def test_the_walk_is_deterministic_per_seed() -> None:
    def walk(seed: int) -> list[tuple[float, float]]:
        market, clock = make_market(seed=seed)
        prices = []
        for _ in range(50):
            clock.advance(seconds=1)
            prices += [(q.bid, q.ask) for q in market.step(["EURUSD", "XAUUSD"])]
        return prices

    assert walk(3) == walk(3)
    assert walk(3) != walk(4)


def test_step_selects_symbols_and_checks_them_first() -> None:
    market, _ = make_market()
    before = market.quote("EURUSD")
    assert [q.symbol for q in market.step(["XAUUSD", "GBPUSD"])] == ["XAUUSD", "GBPUSD"]
    assert [q.symbol for q in market.step("USDJPY")] == ["USDJPY"]
    assert [q.symbol for q in market.step()] == ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"]
    after = market.quote("GBPUSD")
    with pytest.raises(KeyError, match="BTCUSD"):
        market.step(["GBPUSD", "BTCUSD"])
    assert market.quote("GBPUSD") == after  # nothing moved
    assert market.quote("EURUSD") != before


def test_set_price_fills_the_ask_and_validates() -> None:
    market, clock = make_market()
    quote = market.quote("EURUSD")
    spread = round(quote.ask - quote.bid, 5)
    clock.advance(seconds=3)
    moved = market.set_price("EURUSD", 1.2000049)
    assert moved.bid == 1.2
    assert moved.ask == round(1.2 + spread, 5)
    assert moved.time == clock.now
    assert market.quote("EURUSD") == moved
    explicit = market.set_price("EURUSD", 1.2, 1.2003)
    assert (explicit.bid, explicit.ask, explicit.spread) == (1.2, 1.2003, 3.0)
    clock.advance(seconds=1)
    (walked,) = market.step(["EURUSD"])
    assert abs(walked.bid - 1.2) < 0.001  # the walk continues from the forced price

    with pytest.raises(ValueError, match="bid"):
        market.set_price("EURUSD", 0)
    with pytest.raises(ValueError, match="bid"):
        market.set_price("EURUSD", -1.0)
    with pytest.raises(ValueError, match="bid"):
        market.set_price("EURUSD", math.nan)
    with pytest.raises(ValueError, match="ask"):
        market.set_price("EURUSD", 1.2, 1.1999)
    with pytest.raises(KeyError):
        market.set_price("BTCUSD", 1.0)
    assert market.quote("EURUSD") == walked


def test_unknown_symbol_is_a_key_error() -> None:
    market, _ = make_market()
    with pytest.raises(KeyError, match="known: EURUSD"):
        market.quote("eurusd")
    with pytest.raises(KeyError):
        market.candles("BTCUSD", "H1")


def test_specs_is_read_only() -> None:
    market, _ = make_market()
    assert list(market.specs) == ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"]
    with pytest.raises(TypeError):
        market.specs["X"] = EURUSD  # type: ignore[index]


# ---------------------------------------------------------------- live candles


def test_ticks_build_the_live_bars() -> None:
    start = utc(2024, 3, 13, 14, 0, 30)
    market, clock = make_market(now=start)
    straddle_m1 = market.candles("EURUSD", "M1", limit=1)[0]
    clock.now = utc(2024, 3, 13, 14, 2, 5)
    for bid in (1.1, 1.103, 1.098, 1.101):
        clock.advance(seconds=10)
        market.set_price("EURUSD", bid)
    clock.now = utc(2024, 3, 13, 14, 3, 1)
    market.set_price("EURUSD", 1.102)
    clock.now = utc(2024, 3, 13, 14, 5, 50)  # no tick in 14:04 nor 14:05

    bars = market.candles("EURUSD", "M1", start=utc(2024, 3, 13, 13, 59))
    assert [b.time for b in bars] == [
        utc(2024, 3, 13, 13, 59),  # backfill
        utc(2024, 3, 13, 14, 0),  # straddling: backfill until 14:00:30, no tick
        utc(2024, 3, 13, 14, 2),
        utc(2024, 3, 13, 14, 3),
        utc(2024, 3, 13, 14, 5),  # current bar, no tick yet: the current price
    ]
    assert bars[1] == straddle_m1
    assert bars[1].open == bars[0].close
    assert ohlcv(bars[2]) == (1.1, 1.103, 1.098, 1.101, 4)
    assert ohlcv(bars[3]) == (1.102, 1.102, 1.102, 1.102, 1)
    assert ohlcv(bars[4]) == (1.102, 1.102, 1.102, 1.102, 0)


def test_ticks_merge_into_the_straddling_bar() -> None:
    start = utc(2024, 3, 13, 14, 20)
    market, clock = make_market(now=start)
    later, _ = make_market(now=utc(2024, 3, 14))
    history = later.candles("EURUSD", "H1", start=utc(2024, 3, 13, 14), limit=1)[0]
    before = market.candles("EURUSD", "H1", limit=1)[0]
    assert before.time == history.time == utc(2024, 3, 13, 14)
    assert before.open == history.open  # the same backfill bar, cut at the start
    assert 0 < before.volume < history.volume

    bids = [round(before.high + 0.002, 5), round(before.low - 0.003, 5), before.close]
    for bid in bids:
        clock.advance(minutes=5)
        market.set_price("EURUSD", bid)
    bar = market.candles("EURUSD", "H1", limit=1)[0]
    assert ohlcv(bar) == (before.open, bids[0], bids[1], before.close, before.volume + 3)
    # The straddling day, week and month bars also started as backfill.
    for timeframe in ("D1", "W1", "MN"):
        long_bar = market.candles("EURUSD", timeframe, limit=1)[0]
        assert long_bar.time == align(start, timeframe)
        assert long_bar.high >= bids[0]
        assert long_bar.low <= bids[1]
        assert long_bar.volume > 3


def test_m1_and_h1_aggregate_the_same_ticks() -> None:
    market, clock = make_market(now=utc(2024, 3, 13, 13, 59, 59))
    clock.now = utc(2024, 3, 13, 15)
    bids = []
    for _ in range(3 * 60 * 4):  # three minutes of quarter-second ticks
        clock.advance(seconds=0.25)
        bids.append(market.step(["XAUUSD"])[0].bid)
    minutes = market.candles("XAUUSD", "M1", start=utc(2024, 3, 13, 15))
    hour = market.candles("XAUUSD", "H1", start=utc(2024, 3, 13, 15))
    assert len(hour) == 1
    assert [m.time for m in minutes] == [utc(2024, 3, 13, 15, i) for i in range(4)]
    assert sum(m.volume for m in minutes) == hour[0].volume == len(bids)
    assert hour[0].open == minutes[0].open == bids[0]
    assert hour[0].close == minutes[-1].close == bids[-1]
    assert hour[0].high == max(m.high for m in minutes) == max(bids)
    assert hour[0].low == min(m.low for m in minutes) == min(bids)


def test_live_bars_are_bounded() -> None:
    market, clock = make_market(now=utc(2024, 3, 13, 14), max_live_bars=32)
    for _ in range(200):
        clock.advance(minutes=1)
        market.step(["EURUSD"])
    minutes = market.candles("EURUSD", "M1", start=utc(2024, 3, 13, 14), limit=1000)
    # Pruned in chunks: between 30 and 32 bars remain, the oldest are gone for good.
    assert 30 <= len(minutes) <= 32
    assert [m.time for m in minutes] == [
        clock.now - i * STEP["M1"] for i in range(len(minutes) - 1, -1, -1)
    ]
    # H1 kept everything: started on the hour, so its first bar has no backfill part.
    hours = market.candles("EURUSD", "H1", start=utc(2024, 3, 13, 14))
    assert [h.volume for h in hours] == [59, 60, 60, 21]


# ------------------------------------------------------------- range semantics


def test_first_n_from_start_and_last_n_up_to_end() -> None:
    market, _ = make_market()
    start = utc(2024, 3, 1, 9, 30)
    first = market.candles("EURUSD", "M15", start=start, limit=10)
    assert [c.time for c in first] == [start + i * STEP["M15"] for i in range(10)]
    # A start inside a bar begins with the next bar.
    shifted = market.candles("EURUSD", "M15", start=start + timedelta(seconds=1), limit=10)
    assert shifted[0].time == start + STEP["M15"]
    end = utc(2024, 3, 1, 12)
    last = market.candles("EURUSD", "M15", end=end, limit=10)
    assert [c.time for c in last] == [end - i * STEP["M15"] for i in range(9, -1, -1)]
    assert market.candles("EURUSD", "M15", end=end - timedelta(seconds=1), limit=1)[0].time == (
        end - STEP["M15"]
    )


def test_bounds_are_inclusive() -> None:
    market, _ = make_market()
    start, end = utc(2024, 3, 4), utc(2024, 3, 8)
    days = market.candles("EURUSD", "D1", start=start, end=end)
    assert [d.time for d in days] == [utc(2024, 3, i) for i in range(4, 9)]
    assert market.candles("EURUSD", "D1", start=start, end=start) == days[:1]
    assert market.candles("EURUSD", "D1", start=start, end=end, limit=2) == days[:2]
    assert market.candles("EURUSD", "D1", end=end, limit=2) == days[-2:]


def test_start_alone_reaches_up_to_now_and_no_further() -> None:
    market, clock = make_market()
    clock.advance(hours=2)
    hours = market.candles("EURUSD", "H1", start=utc(2024, 3, 13, 10))
    # 10:00 to 13:00 backfill, 14:00 straddling, 15:00 missing (no tick), 16:00 current.
    assert [h.time for h in hours] == [
        utc(2024, 3, 13, 10),
        utc(2024, 3, 13, 11),
        utc(2024, 3, 13, 12),
        utc(2024, 3, 13, 13),
        utc(2024, 3, 13, 14),
        utc(2024, 3, 13, 16),
    ]
    future = market.candles("EURUSD", "H1", end=clock.now + timedelta(days=3), limit=3)
    assert future[-1].time == utc(2024, 3, 13, 16)
    assert market.candles("EURUSD", "H1", start=clock.now + timedelta(hours=1)) == []


def test_last_n_counts_only_bars_that_exist() -> None:
    market, clock = make_market()
    clock.advance(hours=5)  # 15:00 to 18:00 have no tick
    hours = market.candles("EURUSD", "H1", limit=3)
    assert [h.time for h in hours] == [
        utc(2024, 3, 13, 13),
        utc(2024, 3, 13, 14),
        utc(2024, 3, 13, 19),
    ]


def test_naive_bounds_are_taken_as_utc() -> None:
    market, _ = make_market()
    naive = market.candles("EURUSD", "H1", start=datetime(2024, 3, 12), limit=5)
    aware = market.candles("EURUSD", "H1", start=utc(2024, 3, 12), limit=5)
    assert naive == aware


def test_candle_argument_errors() -> None:
    market, _ = make_market()
    with pytest.raises(ValueError, match="allowed: M1"):
        market.candles("EURUSD", "H2")
    with pytest.raises(ValueError, match="limit"):
        market.candles("EURUSD", "H1", limit=0)
    with pytest.raises(ValueError, match="after end"):
        market.candles("EURUSD", "H1", start=utc(2024, 3, 2), end=utc(2024, 3, 1))
    with pytest.raises(KeyError):
        market.candles("XAGUSD", "H1")


def test_far_past_start() -> None:
    market, _ = make_market()
    for timeframe in ("W1", "MN", "M1"):
        bars = market.candles("EURUSD", timeframe, start=utc(1, 1, 1), limit=3)
        assert len(bars) == 3
        assert bars[0].time >= utc(1, 1, 1)
