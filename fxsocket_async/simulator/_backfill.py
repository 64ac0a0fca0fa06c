"""The market's history: a deterministic price path for the bars before the start.

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

import hashlib
import math
from collections.abc import Sequence
from typing import Final

from .._core.models import Candle
from ._symbols import SymbolSpec
from ._timeframes import DAY, Frame

__all__ = ["Backfill", "stable_key"]


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


def stable_key(seed: int, symbol: str, purpose: str) -> int:
    """A 64-bit key for one use of one symbol's randomness, the same in every process."""
    digest = hashlib.blake2b(f"{seed}\0{symbol}\0{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


# --------------------------------------------------------------------- backfill

# Value-noise grid spacings in seconds: 97 s, 7 min, 47 min, 3.2 h, 1, 5.3, 27
# and 160 days. Odd sizes keep grid kinks off bar boundaries. None lies
# strictly between half a day and a day: the closed-form lag variance below
# covers only lags of at most one spacing or at least two.
_LAYER_SPACINGS: Final = (97.0, 420.0, 2820.0, 11_580.0, DAY, 457_920.0, 2_332_800.0, 13_824_000.0)
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


class Backfill:
    """The deterministic historical price path of one symbol (see module docstring)."""

    def __init__(self, spec: SymbolSpec, seed: int) -> None:
        self.spec = spec
        self.half_spread = (sum(spec.spread_points) // 2) * spec.point / 2
        self._bar_key = stable_key(seed, spec.name, "bars")
        sine_key = stable_key(seed, spec.name, "sines")
        noise_key = stable_key(seed, spec.name, "noise")

        sines: list[tuple[float, float, float, float]] = []
        unit_variance = 0.0
        for i, days in enumerate(_SINE_PERIOD_DAYS):
            jitter = 0.9 + 0.2 * _unit(_mix(sine_key + 2 * i))
            period = days * jitter * DAY
            phase = 2 * math.pi * _unit(_mix(sine_key + 2 * i + 1))
            # Same long-run size as a random walk over half the period.
            amplitude = _SINE_WEIGHT * math.sqrt(period / (4 * DAY))
            sines.append((2 * math.pi / period, phase, amplitude, period))
            unit_variance += 2 * amplitude**2 * math.sin(math.pi * DAY / period) ** 2
        layers: list[tuple[float, float, int, float]] = []
        for i, spacing in enumerate(_LAYER_SPACINGS):
            amplitude = math.sqrt(spacing / DAY)
            layers.append((1 / spacing, amplitude, _mix(noise_key + i), spacing))
            unit_variance += amplitude**2 * _noise_lag_variance(DAY / spacing)

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
        self, frame: Frame
    ) -> tuple[tuple[tuple[float, float, float], ...], tuple[tuple[int, float], ...]]:
        # The terms that are curved over a bar of this timeframe: sinusoids and
        # noise layers from 8 times shorter to 8 times longer than the bar.
        # Longer ones are nearly straight over it; shorter ones are a third of
        # its size or less (amplitudes go with sqrt(length)) and are left to
        # the wick. Fewer terms keep 1,000 bars of any timeframe fast.
        plan = self._plans.get(frame.code)
        if plan is None:
            span = frame.length or DAY * 30.44
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
        self, frame: Frame, t0: float, t1: float, open_log: float, close_log: float
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
        self, frame: Frame, index: int, t0: float, t1: float, open_log: float, close_log: float
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
        wick = self._wick_sigma * math.sqrt(span / DAY) * 2.0**-21
        high = max(self.bid(top + wick * (bits & 0x1FFFFF)), open_, close)
        low = min(self.bid(bottom - wick * ((bits >> 21) & 0x1FFFFF)), open_, close)
        if low <= 0:
            low = min(spec.point, open_, close)
        share = 0.5 + (bits >> 42) * 2.0**-22
        volume = max(1, int(span / 60 * _TICKS_PER_MINUTE * share))
        return open_, high, low, close, volume

    def candles(self, frame: Frame, indexes: range) -> list[Candle]:
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
