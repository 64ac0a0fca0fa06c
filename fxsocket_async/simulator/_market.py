"""The simulator's market engine: prices, ticks and candles, with no I/O.

Live prices
    Each symbol's mid price follows a geometric random walk driven by its own
    ``random.Random``, seeded from ``(seed, symbol)`` through a stable hash, so
    the same seed and the same sequence of calls give the same prices in any
    process. A step draws a spread within the symbol's range; the bid is the
    mid minus half of it, rounded to the symbol's digits.

Candles
    Bars are bid prices. Every timeframe is indexed by an integer (bar number
    since 1970 for the fixed-length frames, ``year * 12 + month - 1`` for
    ``MN``), which makes ranges, "the last N" and month arithmetic exact.

    Bars from the one containing ``started_at`` onwards are aggregated from the
    recorded ticks as they arrive (one ``[open, high, low, close, volume]`` per
    bar and timeframe), so a request never rescans ticks. A bounded number of
    them is kept per timeframe; bars pruned from the front are no longer served.

Backfill
    Bars before ``started_at`` come from a closed-form price path, so any past
    range reads the same in every process and every ``Market`` with the same
    seed, and a bar costs the same whether it is a minute or a month::

        mid(t) = start_price * exp(scale * (sum of sinusoids + sum of noise layers))

    * six sinusoids with periods from half a day to about 2.5 years, their
      periods jittered and phases set per symbol by a stable hash;
    * eight layers of value noise: on a grid of spacing ``s`` (97 s up to
      160 days) each grid point gets a hashed value in [-1, 1) and the layer
      interpolates linearly between them. Amplitudes grow with ``sqrt(s)``, as
      a random walk's moves do, so the path looks like a walk at every scale
      from minutes to months, yet stays around ``start_price`` over decades;
    * ``scale`` is solved from the closed-form variance of each term at a lag
      of one day, so day-to-day log moves have the symbol's
      ``daily_volatility``.

    A bar's open is the bid of ``mid`` at its start and its close the bid at
    the next bar's start, so consecutive bars join exactly (and bars of
    different timeframes agree at shared boundaries). High and low are the
    extremes of ``mid`` at eight points inside the bar plus a small hashed
    wick; only the terms that curve at the bar's scale are evaluated there
    (longer ones are straight over it, much shorter ones are left to the
    wick), so a bar costs about the same at every timeframe: 1,000 bars take
    some 10-35 ms, and finished bars are cached. The volume is hashed and
    proportional to the bar's length. Backfill bids are ``mid`` minus half the
    symbol's typical (mid-range) spread.

    The bar containing ``started_at`` starts as this backfill, cut at
    ``started_at``, and live ticks continue it; the live walk starts at
    ``mid(started_at)``, so history and live prices join without a jump.

    The hashes are SplitMix64 over 64-bit keys derived from blake2b: pure
    integer arithmetic, never Python's per-process ``hash()`` or global random
    state.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Final

from .._core.models import TIMEFRAMES, Candle, Quote

__all__ = [
    "DEFAULT_SYMBOLS",
    "Market",
    "SymbolSpec",
    "align",
    "next_bar",
    "symbol_specs",
]

_DAY: Final = 86_400.0
# Seconds between random-walk steps that the per-step sigma is sized for (the
# default quote interval); a fixed step keeps the walk independent of timing.
_STEP_SECONDS: Final = 0.25
# Live bars kept per symbol and timeframe: ~14 days of M1 bars.
_DEFAULT_MAX_LIVE_BARS: Final = 20_000


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """An instrument the simulator quotes.

    ``spread_points`` is the (min, max) spread in points (``10 ** -digits``);
    ``start_price`` anchors the historical backfill and, through it, the first
    live price; ``daily_volatility`` is the standard deviation of daily
    relative moves.
    """

    name: str
    digits: int
    contract_size: float
    base: str
    quote: str
    start_price: float
    spread_points: tuple[int, int]
    daily_volatility: float

    def __post_init__(self) -> None:
        low, high = self.spread_points
        if not self.name:
            raise ValueError("a symbol needs a name")
        if not 0 <= self.digits <= 10:
            raise ValueError(f"{self.name}: digits must be 0 to 10, not {self.digits}")
        if not (math.isfinite(self.start_price) and self.start_price > 0):
            raise ValueError(f"{self.name}: start_price must be positive")
        if not (math.isfinite(self.contract_size) and self.contract_size > 0):
            raise ValueError(f"{self.name}: contract_size must be positive")
        if not 1 <= low <= high:
            raise ValueError(f"{self.name}: spread_points must be (min, max) with 1 <= min <= max")
        if not (math.isfinite(self.daily_volatility) and 0 < self.daily_volatility < 1):
            raise ValueError(f"{self.name}: daily_volatility must be between 0 and 1")

    @property
    def point(self) -> float:
        """The smallest price step, ``10 ** -digits``."""
        return 10.0**-self.digits

    @property
    def pip(self) -> float:
        """Ten points: the unit of a quote's ``spread``."""
        return 10 * self.point

    def round(self, price: float) -> float:
        """Round a price to the symbol's digits."""
        return round(price, self.digits)


DEFAULT_SYMBOLS: Final[tuple[SymbolSpec, ...]] = (
    SymbolSpec("EURUSD", 5, 100_000, "EUR", "USD", 1.0850, (6, 18), 0.005),
    SymbolSpec("GBPUSD", 5, 100_000, "GBP", "USD", 1.2700, (10, 25), 0.006),
    SymbolSpec("USDJPY", 3, 100_000, "USD", "JPY", 150.00, (10, 22), 0.0065),
    SymbolSpec("XAUUSD", 2, 100, "XAU", "USD", 2350.00, (15, 40), 0.011),
)


def symbol_specs(names: Iterable[str]) -> tuple[SymbolSpec, ...]:
    """Pick built-in instruments by exact name, in the order given (duplicates once).

    Raises ``ValueError`` naming the unknown names and the known ones.
    """
    known = {spec.name: spec for spec in DEFAULT_SYMBOLS}
    wanted = list(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(
            f"unknown symbol(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )
    return tuple(known[name] for name in wanted)


# ------------------------------------------------------------------- timeframes

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MIDNIGHT: Final = _EPOCH.time()
_MIN_SECONDS: Final = (date(1, 1, 1).toordinal() - date(1970, 1, 1).toordinal()) * 86_400


def _days_from_civil(year: int, month: int, day: int) -> int:
    # Days since 1970-01-01 of a proleptic Gregorian date, for any year (Howard
    # Hinnant's algorithm); unlike date(), it does not stop at year 9999.
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


class _Frame:
    """Integer bar numbering of one timeframe."""

    __slots__ = ("_origin", "_step", "code", "length", "min_index", "name", "origin")

    def __init__(self, name: str, code: int, length: int, origin: int = 0) -> None:
        self.name = name
        self.code = code
        self.length = length  # seconds; 0 for calendar months
        self.origin = origin  # epoch seconds of bar 0
        self._origin = _EPOCH + timedelta(seconds=origin)
        self._step = timedelta(seconds=length or 1)
        if length:
            self.min_index = -((origin - _MIN_SECONDS) // length)
        else:
            self.min_index = 12  # January of year 1

    def index(self, t: datetime) -> int:
        """Number of the bar containing ``t`` (an aware UTC datetime)."""
        if self.length:
            return (t - self._origin) // self._step
        return t.year * 12 + t.month - 1

    def ceil_index(self, t: datetime) -> int:
        """Number of the first bar starting at or after ``t``."""
        # Compared without building the floor bar's start, which may lie
        # before year 1.
        if self.length:
            on_boundary = (t - self._origin) % self._step == timedelta(0)
        else:
            on_boundary = t.day == 1 and t.time() == _MIDNIGHT
        index = self.index(t)
        return index if on_boundary else index + 1

    def start(self, index: int) -> datetime:
        """Start of bar ``index`` as an aware UTC datetime."""
        if self.length:
            return self._origin + self._step * index
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)

    def start_seconds(self, index: int) -> float:
        """Start of bar ``index`` in seconds since the epoch."""
        if self.length:
            return float(self.origin + self.length * index)
        return _days_from_civil(index // 12, index % 12 + 1, 1) * _DAY


_FIXED_SECONDS: Final = {
    "M1": 60,
    "M5": 300,
    "M15": 900,
    "M30": 1800,
    "H1": 3600,
    "H4": 14_400,
    "D1": 86_400,
    "W1": 604_800,
}
# 1970-01-05, the first Monday after the epoch, so weekly bars start on Mondays.
_FIRST_MONDAY: Final = 4 * 86_400
_FRAMES: Final[Mapping[str, _Frame]] = MappingProxyType(
    {
        name: _Frame(
            name,
            code,
            _FIXED_SECONDS.get(name, 0),
            _FIRST_MONDAY if name == "W1" else 0,
        )
        for code, name in enumerate(TIMEFRAMES)
    }
)
assert set(_FRAMES) == set(_FIXED_SECONDS) | {"MN"}, "TIMEFRAMES changed"


def _frame(timeframe: str) -> _Frame:
    frame = _FRAMES.get(timeframe)
    if frame is None:
        raise ValueError(f"unknown timeframe {timeframe!r}; allowed: {', '.join(TIMEFRAMES)}")
    return frame


def _utc(t: datetime) -> datetime:
    # Broker times are labelled UTC; a naive time is taken as such.
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def align(time: datetime, timeframe: str) -> datetime:
    """Start of the ``timeframe`` bar containing ``time``.

    M1 to H4 are multiples of their length since the epoch, D1 starts at
    midnight, W1 on Monday 00:00 and MN on the 1st of the month. Returns an
    aware UTC datetime (a naive ``time`` is taken as UTC). Raises
    ``ValueError`` for an unknown timeframe.
    """
    frame = _frame(timeframe)
    return frame.start(frame.index(_utc(time)))


def next_bar(start: datetime, timeframe: str) -> datetime:
    """Start of the bar after the one containing ``start`` (MN: the next calendar month)."""
    frame = _frame(timeframe)
    return frame.start(frame.index(_utc(start)) + 1)


# ---------------------------------------------------------------------- hashing

_MASK: Final = (1 << 64) - 1
_GOLDEN: Final = 0x9E3779B97F4A7C15


def _mix(x: int) -> int:
    # SplitMix64's finaliser: a stable, well-spread 64-bit hash of a 64-bit key.
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _unit(x: int) -> float:
    """A 64-bit hash as a float in [0, 1)."""
    return (x >> 11) * 2.0**-53


def _key(seed: int, symbol: str, purpose: str) -> int:
    digest = hashlib.blake2b(f"{seed}\0{symbol}\0{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


# --------------------------------------------------------------------- backfill

# Value-noise grid spacings in seconds: 97 s, 7 min, 47 min, 3.2 h, 1, 5.3, 27
# and 160 days. Odd sizes keep grid kinks off bar boundaries. None lies
# strictly between half a day and a day: the closed-form lag variance below
# covers only lags of at most one spacing or at least two.
_LAYER_SPACINGS: Final = (97.0, 420.0, 2820.0, 11_580.0, _DAY, 457_920.0, 2_332_800.0, 13_824_000.0)
_SINE_PERIOD_DAYS: Final = (0.5, 3.7, 19.0, 71.0, 260.0, 900.0)
# Sinusoids are regular, so they get less weight than the noise.
_SINE_WEIGHT: Final = 0.5
_INTRABAR_SAMPLES: Final = 8
_FRACTIONS: Final = tuple(j / (_INTRABAR_SAMPLES + 1) for j in range(1, _INTRABAR_SAMPLES + 1))
# Wick size in units of the bar's random-walk sigma.
_WICK: Final = 0.4
# Backfill ticks per minute (the mean); live bars count real ticks.
_TICKS_PER_MINUTE: Final = 20.0
# Grid values cached per noise layer (~100 bytes each), then the cache restarts.
_CACHE_LIMIT: Final = 4096
_CANDLE_CACHE_LIMIT: Final = 20_000


def _noise_lag_variance(lag_over_spacing: float) -> float:
    # Variance of f(t + L) - f(t) over a uniformly random phase, for linearly
    # interpolated iid values uniform in [-1, 1) (variance 1/3):
    # lambda^2 (2 - lambda) / 3 for lambda <= 1; 4/9 (no shared grid point)
    # for lambda >= 2.
    lam = lag_over_spacing
    if lam <= 1:
        return lam * lam * (2 - lam) / 3
    assert lam >= 2, "no noise layer may have a spacing between half a day and a day"
    return 4 / 9


class _Backfill:
    """The deterministic historical price path of one symbol (see module docstring)."""

    def __init__(self, spec: SymbolSpec, seed: int) -> None:
        self.spec = spec
        self.half_spread = (sum(spec.spread_points) // 2) * spec.point / 2
        self._bar_key = _key(seed, spec.name, "bars")
        sine_key = _key(seed, spec.name, "sines")
        noise_key = _key(seed, spec.name, "noise")

        sines: list[tuple[float, float, float, float]] = []
        unit_variance = 0.0
        for i, days in enumerate(_SINE_PERIOD_DAYS):
            jitter = 0.9 + 0.2 * _unit(_mix(sine_key + 2 * i))
            period = days * jitter * _DAY
            phase = 2 * math.pi * _unit(_mix(sine_key + 2 * i + 1))
            # Same long-run size as a random walk over half the period.
            amplitude = _SINE_WEIGHT * math.sqrt(period / (4 * _DAY))
            sines.append((2 * math.pi / period, phase, amplitude, period))
            unit_variance += 2 * amplitude**2 * math.sin(math.pi * _DAY / period) ** 2
        layers: list[tuple[float, float, int, float]] = []
        for i, spacing in enumerate(_LAYER_SPACINGS):
            amplitude = math.sqrt(spacing / _DAY)
            layers.append((1 / spacing, amplitude, _mix(noise_key + i), spacing))
            unit_variance += amplitude**2 * _noise_lag_variance(_DAY / spacing)

        scale = spec.daily_volatility / math.sqrt(unit_variance)
        self._sines = tuple((w, p, a * scale, period) for w, p, a, period in sines)
        self._layers = tuple((inv, a * scale, key, s) for inv, a, key, s in layers)
        # Lattice values are pure functions of (layer, k); caching them only saves time.
        self._lattice: tuple[dict[int, float], ...] = tuple({} for _ in layers)
        self._wick_sigma = _WICK * spec.daily_volatility
        # Finished bars never change; requests for recent history repeat a lot.
        self._candles: dict[tuple[int, int], Candle] = {}
        self._plans: dict[
            int, tuple[tuple[tuple[float, float, float], ...], tuple[tuple[int, float], ...]]
        ] = {}

    def _node(self, layer: int, k: int) -> float:
        # The hashed value in [-1, 1) of grid point k of a noise layer (a cache
        # miss: _mix and _unit inlined, this is the hot path of long bars).
        cache = self._lattice[layer]
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        x = (self._layers[layer][2] + k * _GOLDEN) & _MASK
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
        value = cache[k] = ((x ^ (x >> 31)) >> 11) * 2.0**-52 - 1.0
        return value

    def _layer(self, layer: int, times: Sequence[float]) -> list[float]:
        # One noise layer at several times: linear between hashed grid values.
        inv, amplitude, _, _ = self._layers[layer]
        cache = self._lattice[layer]
        floor = math.floor
        values = []
        for t in times:
            x = t * inv
            k = floor(x)
            v0 = cache.get(k)
            if v0 is None:
                v0 = self._node(layer, k)
            v1 = cache.get(k + 1)
            if v1 is None:
                v1 = self._node(layer, k + 1)
            values.append(amplitude * (v0 + (v1 - v0) * (x - k)))
        return values

    def log_mid(self, t: float) -> float:
        """``log(mid(t) / start_price)`` at ``t`` seconds since the epoch."""
        total = 0.0
        for omega, phase, amplitude, _ in self._sines:
            total += amplitude * math.sin(omega * t + phase)
        # _layer inlined for a single time: this runs once per bar boundary.
        floor = math.floor
        for layer, (inv, amplitude, _, _) in enumerate(self._layers):
            cache = self._lattice[layer]
            x = t * inv
            k = floor(x)
            v0 = cache.get(k)
            if v0 is None:
                v0 = self._node(layer, k)
            v1 = cache.get(k + 1)
            if v1 is None:
                v1 = self._node(layer, k + 1)
            total += amplitude * (v0 + (v1 - v0) * (x - k))
        return total

    def bid(self, log_mid: float) -> float:
        """The rounded bid for a log-mid, with a typical spread."""
        return round(self.spec.start_price * math.exp(log_mid) - self.half_spread, self.spec.digits)

    def _plan(
        self, frame: _Frame
    ) -> tuple[tuple[tuple[float, float, float], ...], tuple[tuple[int, float], ...]]:
        # The terms that are curved over a bar of this timeframe: sinusoids and
        # noise layers from 8 times shorter to 8 times longer than the bar.
        # Longer ones are nearly straight over it; shorter ones are a third of
        # its size or less (amplitudes go with sqrt(length)) and are left to
        # the wick. Fewer terms keep 1,000 bars of any timeframe fast.
        plan = self._plans.get(frame.code)
        if plan is None:
            span = frame.length or _DAY * 30.44
            short, long = span / 8, span * 8
            sines = tuple((w, p, a) for w, p, a, period in self._sines if short <= period < long)
            layers = tuple(
                (layer, inv)
                for layer, (inv, _, _, spacing) in enumerate(self._layers)
                if short <= spacing < long
            )
            plan = self._plans[frame.code] = (sines, layers)
        return plan

    def _extremes(
        self, frame: _Frame, t0: float, t1: float, open_log: float, close_log: float
    ) -> tuple[float, float]:
        # Max and min of log_mid at the bar's ends and _INTRABAR_SAMPLES points
        # inside. Speed: a sample is the straight line from open to close plus
        # the deviation from their own straight line of the terms that are
        # curved over the bar (see _plan); a noise layer with no grid point
        # inside the bar is exactly straight, so most short bars need nothing.
        sines, layers = self._plan(frame)
        layers = tuple(
            (layer, inv) for layer, inv in layers if math.ceil(t1 * inv) - math.floor(t0 * inv) > 1
        )
        if not (sines or layers):
            return max(open_log, close_log), min(open_log, close_log)
        span = t1 - t0
        times = [t0 + f * span for f in _FRACTIONS]
        curved = [0.0] * _INTRABAR_SAMPLES  # the curved terms at the samples
        start = end = 0.0  # ... and at the ends
        sin = math.sin
        for omega, phase, amplitude in sines:
            start += amplitude * sin(omega * t0 + phase)
            end += amplitude * sin(omega * t1 + phase)
            curved = [
                c + amplitude * sin(omega * t + phase) for c, t in zip(curved, times, strict=True)
            ]
        for layer, _ in layers:
            *values, e0, e1 = self._layer(layer, [*times, t0, t1])
            start += e0
            end += e1
            curved = [c + v for c, v in zip(curved, values, strict=True)]
        base = open_log - start
        slope = close_log - open_log - (end - start)
        samples = [c + base + slope * f for c, f in zip(curved, _FRACTIONS, strict=True)]
        return max(open_log, close_log, *samples), min(open_log, close_log, *samples)

    def bar(
        self, frame: _Frame, index: int, t0: float, t1: float, open_log: float, close_log: float
    ) -> tuple[float, float, float, float, int]:
        """OHLCV of bar ``index`` covering ``[t0, t1]``, given the log-mids at both ends."""
        spec = self.spec
        span = t1 - t0
        open_, close = self.bid(open_log), self.bid(close_log)
        if span <= 0:
            return open_, open_, open_, open_, 0
        top, bottom = self._extremes(frame, t0, t1, open_log, close_log)
        # One hash, cut into three uniforms: upper wick, lower wick, volume.
        bits = _mix(self._bar_key + frame.code * 0x100000001B3 + index * _GOLDEN)
        wick = self._wick_sigma * math.sqrt(span / _DAY) * 2.0**-21
        high = max(self.bid(top + wick * (bits & 0x1FFFFF)), open_, close)
        low = min(self.bid(bottom - wick * ((bits >> 21) & 0x1FFFFF)), open_, close)
        if low <= 0:
            low = min(spec.point, open_, close)
        share = 0.5 + (bits >> 42) * 2.0**-22
        volume = max(1, int(span / 60 * _TICKS_PER_MINUTE * share))
        return open_, high, low, close, volume

    def candles(self, frame: _Frame, indexes: range) -> list[Candle]:
        """The full backfill bars ``indexes`` (ascending) of a timeframe."""
        cache = self._candles
        if len(cache) > _CANDLE_CACHE_LIMIT:
            cache.clear()
        candles = []
        # A bar's open is the previous bar's close: carry log_mid across.
        t0 = frame.start_seconds(indexes[0]) if indexes else 0.0
        open_log: float | None = None
        for index in indexes:
            t1 = frame.start_seconds(index + 1)
            candle = cache.get((frame.code, index))
            if candle is None:
                if open_log is None:
                    open_log = self.log_mid(t0)
                close_log = self.log_mid(t1)
                o, h, low, c, volume = self.bar(frame, index, t0, t1, open_log, close_log)
                candle = Candle(
                    time=frame.start(index), open=o, high=h, low=low, close=c, volume=volume
                )
                cache[frame.code, index] = candle
                open_log = close_log
            else:
                open_log = None
            candles.append(candle)
            t0 = t1
        return candles


# ----------------------------------------------------------------------- market


class _Series:
    """Live bars of one symbol and timeframe: index -> [open, high, low, close, volume]."""

    __slots__ = ("bars", "floor", "indexes")

    def __init__(self, floor: int) -> None:
        self.indexes: list[int] = []  # sorted keys of bars
        self.bars: dict[int, list[float]] = {}
        self.floor = floor  # bars below this index were pruned (or precede the start)


class _SymbolState:
    __slots__ = ("ask", "backfill", "bid", "mid", "rng", "series", "spec", "straddle", "time")

    def __init__(self, spec: SymbolSpec, seed: int, started_at: datetime) -> None:
        self.spec = spec
        self.backfill = _Backfill(spec, seed)
        self.rng = random.Random(_key(seed, spec.name, "walk"))
        log_mid = self.backfill.log_mid(started_at.timestamp())
        self.mid = spec.start_price * math.exp(log_mid)
        self.bid = self.backfill.bid(log_mid)
        typical = sum(spec.spread_points) // 2 * spec.point
        self.ask = spec.round(self.bid + typical)
        self.time = started_at
        self.series = {name: _Series(frame.index(started_at)) for name, frame in _FRAMES.items()}
        # Backfill part of each timeframe's bar containing started_at, computed on demand.
        self.straddle: dict[str, tuple[float, float, float, float, int]] = {}


class Market:
    """Prices, ticks and candles of the simulator's instruments (synchronous, no I/O).

    ``now`` returns the current broker time as an aware UTC datetime; the
    market reads it for every tick and every candle request, so tests can
    drive time with a fake clock. ``max_live_bars`` bounds the live bars kept
    per symbol and timeframe (older ones are dropped and no longer served).
    """

    def __init__(
        self,
        symbols: Sequence[SymbolSpec],
        *,
        seed: int,
        now: Callable[[], datetime],
        max_live_bars: int = _DEFAULT_MAX_LIVE_BARS,
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
        self.started_at: datetime = _utc(now())
        self.specs: Mapping[str, SymbolSpec] = MappingProxyType({s.name: s for s in symbols})
        self._states = {s.name: _SymbolState(s, seed, self.started_at) for s in symbols}
        self._step_sigma = {
            s.name: s.daily_volatility * math.sqrt(_STEP_SECONDS / _DAY) for s in symbols
        }

    def _state(self, symbol: str) -> _SymbolState:
        state = self._states.get(symbol)
        if state is None:
            raise KeyError(f"unknown symbol {symbol!r}; known: {', '.join(self._states)}")
        return state

    def _clock(self) -> datetime:
        # A tick is never placed before the start: the bars there are history.
        return max(_utc(self._now()), self.started_at)

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

    def _tick(self, state: _SymbolState, t: datetime, bid: float, ask: float) -> None:
        state.bid, state.ask, state.time = bid, ask, t
        for name, frame in _FRAMES.items():
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
        self, state: _SymbolState, frame: _Frame
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
        frame = _frame(timeframe)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if start is not None:
            start = _utc(start)
        if end is not None:
            end = _utc(end)
            if start is not None and start > end:
                raise ValueError(f"start ({start.isoformat()}) is after end ({end.isoformat()})")
        now = _utc(self._now())
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
        self, state: _SymbolState, frame: _Frame, low: int, high: int, now_index: int
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

    def _live_candle(self, state: _SymbolState, frame: _Frame, index: int) -> Candle:
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
    def _history(state: _SymbolState, frame: _Frame, indexes: range) -> list[Candle]:
        return state.backfill.candles(frame, indexes)
