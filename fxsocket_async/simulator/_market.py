"""The simulator's market engine: prices, ticks and candles, with no I/O.

Live prices
    Each symbol's mid price follows a geometric random walk driven by its own
    ``random.Random``, seeded from ``(seed, symbol)`` through a stable hash, so
    the same seed and the same sequence of calls give the same prices in any
    process. A step draws a spread within the symbol's range; the bid is the
    mid minus half of it, rounded to the symbol's digits. The walk starts at
    the backfill's ``mid(started_at)``, so history and live prices join
    without a jump.

Candles
    Bars are bid prices, numbered per timeframe as in ``_timeframes``. Bars
    before the one containing ``started_at`` are the deterministic history of
    ``_backfill``. Bars from that one onwards are aggregated from the recorded
    ticks as they arrive (one ``[open, high, low, close, volume]`` per bar and
    timeframe), so a request never rescans ticks; the bar containing
    ``started_at`` starts as the backfill cut there. A bounded number of them
    is kept per timeframe; bars pruned from the front are no longer served.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Final

from .._core.models import Candle, Quote
from ._backfill import Backfill, stable_key
from ._symbols import DEFAULT_SYMBOLS, SymbolSpec, symbol_specs
from ._timeframes import DAY, FRAMES, Frame, align, frame_of, next_bar, to_utc

__all__ = [
    "DEFAULT_SYMBOLS",
    "Market",
    "SymbolSpec",
    "align",
    "next_bar",
    "symbol_specs",
]

# Seconds between random-walk steps that the per-step sigma is sized for (the
# default quote interval); a fixed step keeps the walk independent of timing.
_STEP_SECONDS: Final = 0.25
# Live bars kept per symbol and timeframe: ~14 days of M1 bars.
_DEFAULT_MAX_LIVE_BARS: Final = 20_000


class _Series:
    """Live bars of one symbol and timeframe: index -> [open, high, low, close, volume]."""

    __slots__ = ("bars", "floor", "indexes")

    def __init__(self, floor: int) -> None:
        self.indexes: list[int] = []  # sorted keys of bars
        self.bars: dict[int, list[float]] = {}
        self.floor = floor  # bars below this index were pruned (or precede the start)


class _SymbolState:
    __slots__ = ("ask", "backfill", "bid", "mid", "rng", "series", "spec", "straddle", "time")

    def __init__(
        self,
        spec: SymbolSpec,
        seed: int,
        started_at: datetime,
        opening: tuple[float, float] | None = None,
    ) -> None:
        self.spec = spec
        self.backfill = Backfill(spec, seed)
        self.rng = random.Random(stable_key(seed, spec.name, "walk"))
        log_mid = self.backfill.log_mid(started_at.timestamp())
        self.mid = spec.start_price * math.exp(log_mid)
        self.bid = self.backfill.bid(log_mid)
        typical = sum(spec.spread_points) // 2 * spec.point
        self.ask = spec.round(self.bid + typical)
        if opening is not None:
            self.bid, self.ask = opening
            self.mid = (self.bid + self.ask) / 2
        self.time = started_at
        self.series = {name: _Series(frame.index(started_at)) for name, frame in FRAMES.items()}
        # Backfill part of each timeframe's bar containing started_at, computed on demand.
        self.straddle: dict[str, tuple[float, float, float, float, int]] = {}


class Market:
    """Prices, ticks and candles of the simulator's instruments (synchronous, no I/O).

    ``now`` returns the current broker time as an aware UTC datetime; the
    market reads it for every tick and every candle request, so tests can
    drive time with a fake clock. ``max_live_bars`` bounds the live bars kept
    per symbol and timeframe (older ones are dropped and no longer served).
    ``opening`` sets a symbol's (bid, ask) before its first tick (a replay
    opens at the recorded prices); the others open at the backfill's.
    """

    def __init__(
        self,
        symbols: Sequence[SymbolSpec],
        *,
        seed: int,
        now: Callable[[], datetime],
        max_live_bars: int = _DEFAULT_MAX_LIVE_BARS,
        opening: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        if not symbols:
            raise ValueError("a market needs at least one symbol")
        names = [spec.name for spec in symbols]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate symbol(s): {', '.join(duplicates)}")
        if max_live_bars < 1:
            raise ValueError("max_live_bars must be at least 1")
        self._now = now
        self._max_live_bars = max_live_bars
        self.started_at: datetime = to_utc(now())
        self.specs: Mapping[str, SymbolSpec] = MappingProxyType({s.name: s for s in symbols})
        opening = opening or {}
        self._states = {
            s.name: _SymbolState(s, seed, self.started_at, opening.get(s.name)) for s in symbols
        }
        self._step_sigma = {
            s.name: s.daily_volatility * math.sqrt(_STEP_SECONDS / DAY) for s in symbols
        }

    def _state(self, symbol: str) -> _SymbolState:
        state = self._states.get(symbol)
        if state is None:
            raise KeyError(f"unknown symbol {symbol!r}; known: {', '.join(self._states)}")
        return state

    def _clock(self) -> datetime:
        # A tick is never placed before the start: the bars there are history.
        return max(to_utc(self._now()), self.started_at)

    # ------------------------------------------------------------------ prices

    def quote(self, symbol: str) -> Quote:
        """The current price of ``symbol``; ``time`` is when it last ticked.

        ``spread`` is in pips, rounded to one decimal. Raises ``KeyError`` for
        an unknown symbol.
        """
        state = self._state(symbol)
        return self._quote(state)

    @staticmethod
    def _quote(state: _SymbolState) -> Quote:
        spread = round((state.ask - state.bid) / state.spec.pip, 1)
        return Quote(
            symbol=state.spec.name, bid=state.bid, ask=state.ask, time=state.time, spread=spread
        )

    def step(self, symbols: Iterable[str] | None = None) -> list[Quote]:
        """Move each symbol (default: all) one random-walk step at ``now()``.

        Records each tick into the candles and returns the new quotes in the
        order of ``symbols``. Raises ``KeyError`` for an unknown symbol before
        moving any.
        """
        if symbols is None:
            states = list(self._states.values())
        else:
            states = [self._state(s) for s in ([symbols] if isinstance(symbols, str) else symbols)]
        t = self._clock()
        quotes = []
        for state in states:
            spec = state.spec
            state.mid *= math.exp(self._step_sigma[spec.name] * state.rng.gauss(0.0, 1.0))
            spread = state.rng.randint(*spec.spread_points) * spec.point
            bid = spec.round(state.mid - spread / 2)
            self._tick(state, t, bid, spec.round(bid + spread))
            quotes.append(self._quote(state))
        return quotes

    def set_price(self, symbol: str, bid: float, ask: float | None = None) -> Quote:
        """Force the price of ``symbol`` now, recorded like a tick; returns the new quote.

        Prices are rounded to the symbol's digits; ``ask`` defaults to ``bid``
        plus the current spread, and the random walk continues from the new
        mid. Raises ``ValueError`` unless ``bid > 0`` and ``ask >= bid``, and
        ``KeyError`` for an unknown symbol.
        """
        state = self._state(symbol)
        spec = state.spec
        new_bid = spec.round(bid) if math.isfinite(bid) else math.nan
        if not new_bid > 0:
            raise ValueError(f"bid must be a positive number, not {bid!r}")
        if ask is None:
            new_ask = spec.round(new_bid + (state.ask - state.bid))
        else:
            new_ask = spec.round(ask) if math.isfinite(ask) else math.nan
            if not new_ask >= new_bid:
                raise ValueError(f"ask ({ask!r}) must be a number at least the bid ({bid!r})")
        state.mid = (new_bid + new_ask) / 2
        self._tick(state, self._clock(), new_bid, new_ask)
        return self._quote(state)

    def replay_tick(self, symbol: str, bid: float, ask: float, time: datetime) -> Quote:
        """Record a replayed tick as it was: its prices unrounded, at its own ``time``.

        The caller (the replay) checked the prices and keeps ``time`` from
        going back; the random walk continues from the new mid. Raises
        ``KeyError`` for an unknown symbol.
        """
        state = self._state(symbol)
        state.mid = (bid + ask) / 2
        self._tick(state, max(time, self.started_at), bid, ask)
        return self._quote(state)

    def _tick(self, state: _SymbolState, t: datetime, bid: float, ask: float) -> None:
        state.bid, state.ask, state.time = bid, ask, t
        for name, frame in FRAMES.items():
            series = state.series[name]
            index = frame.index(t)
            bar = series.bars.get(index)
            if bar is not None:
                if bid > bar[1]:
                    bar[1] = bid
                elif bid < bar[2]:
                    bar[2] = bid
                bar[3] = bid
                bar[4] += 1
                continue
            if index < series.floor:
                continue  # pruned already (the clock went back a long way)
            if index == frame.index(self.started_at):
                o, h, low, _, v = self._straddle(state, frame)
                bar = [o, max(h, bid), min(low, bid), bid, v + 1]
            else:
                bar = [bid, bid, bid, bid, 1]
            series.bars[index] = bar
            if not series.indexes or index > series.indexes[-1]:
                series.indexes.append(index)
            else:
                bisect.insort(series.indexes, index)
            self._prune(series)

    def _prune(self, series: _Series) -> None:
        excess = len(series.indexes) - self._max_live_bars
        if excess <= 0:
            return
        # Drop in chunks so the list's front is not shifted on every new bar.
        excess = min(len(series.indexes) - 1, excess + self._max_live_bars // 16)
        for index in series.indexes[:excess]:
            del series.bars[index]
        del series.indexes[:excess]
        series.floor = series.indexes[0]

    def _straddle(
        self, state: _SymbolState, frame: Frame
    ) -> tuple[float, float, float, float, int]:
        bar = state.straddle.get(frame.name)
        if bar is None:
            backfill = state.backfill
            index = frame.index(self.started_at)
            t0 = frame.start_seconds(index)
            t1 = self.started_at.timestamp()
            bar = backfill.bar(frame, index, t0, t1, backfill.log_mid(t0), backfill.log_mid(t1))
            state.straddle[frame.name] = bar
        return bar

    # ----------------------------------------------------------------- candles

    def candles(
        self,
        symbol: str,
        timeframe: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 500,
    ) -> list[Candle]:
        """Bid bars of ``symbol`` whose start lies in ``[start, end]``, oldest first.

        ``end`` defaults to, and is capped at, ``now()``. With ``start``: the
        first ``limit`` bars from it; without: the last ``limit`` bars up to
        ``end``. Bars before the one containing ``started_at`` are backfill;
        later bars with no tick are left out, except the current one, which
        shows the current bid. Raises ``ValueError`` for an unknown timeframe,
        ``limit < 1`` or ``start > end``, and ``KeyError`` for an unknown symbol.
        """
        state = self._state(symbol)
        frame = frame_of(timeframe)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if start is not None:
            start = to_utc(start)
        if end is not None:
            end = to_utc(end)
            if start is not None and start > end:
                raise ValueError(f"start ({start.isoformat()}) is after end ({end.isoformat()})")
        now = to_utc(self._now())
        upto = now if end is None or end > now else end
        if start is not None and start > upto:
            return []
        first = frame.min_index if start is None else frame.ceil_index(start)
        last = frame.index(upto)
        live_start = frame.index(self.started_at)

        live = self._live_indexes(state, frame, max(first, live_start), last, frame.index(now))
        history_last = min(last, live_start - 1)
        history_count = max(0, history_last - first + 1)
        if start is not None:
            count = min(limit, history_count)
            history = range(first, first + count)
            live = live[: limit - count]
        else:
            live = live[-limit:]
            count = min(limit - len(live), history_count)
            history = range(history_last - count + 1, history_last + 1)
        return self._history(state, frame, history) + [
            self._live_candle(state, frame, index) for index in live
        ]

    def _live_indexes(
        self, state: _SymbolState, frame: Frame, low: int, high: int, now_index: int
    ) -> list[int]:
        # Indexes in [low, high] that have a bar: those with ticks, the bar
        # containing started_at (unless pruned) and the bar containing now.
        if low > high:
            return []
        series = state.series[frame.name]
        low = max(low, series.floor)
        lo = bisect.bisect_left(series.indexes, low)
        hi = bisect.bisect_right(series.indexes, high)
        indexes = series.indexes[lo:hi]
        for extra in (frame.index(self.started_at), now_index):
            if low <= extra <= high and extra not in series.bars and extra not in indexes:
                bisect.insort(indexes, extra)
        return indexes

    def _live_candle(self, state: _SymbolState, frame: Frame, index: int) -> Candle:
        time = frame.start(index)
        bar = state.series[frame.name].bars.get(index)
        if bar is not None:
            o, h, low, c, v = bar
            return Candle(time=time, open=o, high=h, low=low, close=c, volume=int(v))
        if index == frame.index(self.started_at):
            o, h, low, c, volume = self._straddle(state, frame)
            return Candle(time=time, open=o, high=h, low=low, close=c, volume=volume)
        bid = state.bid  # the current bar, no tick yet
        return Candle(time=time, open=bid, high=bid, low=bid, close=bid, volume=0)

    @staticmethod
    def _history(state: _SymbolState, frame: Frame, indexes: range) -> list[Candle]:
        return state.backfill.candles(frame, indexes)
