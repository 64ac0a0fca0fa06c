"""Client-side request pacing: one GCRA token bucket per account, one for management.

GCRA ("virtual scheduling") books each request a slot in time instead of
counting tokens: a caller computes how long it must wait, reserves the slot
and sleeps once. There is no polling and no queue, waiters leave in arrival
order, and 1,000 concurrent callers cost 1,000 timers, not 1,000 wake-ups each.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

__all__ = ["Pacer", "Pacers"]


class Pacer:
    """``rate`` requests per second with bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._theoretical_arrival = 0.0
        self.delayed = 0  # how many requests had to wait

    def reserve(self) -> float:
        """Book the next slot; return the seconds to wait before using it."""
        now = self._clock()
        arrival = max(self._theoretical_arrival, now)
        self._theoretical_arrival = arrival + self._interval
        return max(0.0, arrival - self._tolerance - now)

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            self.delayed += 1
            await anyio.sleep(delay)


class Pacers:
    """The session's pacers, made on first use for each bucket name."""

    def __init__(self, per_account: float | None, management: float | None, burst: int):
        self._rates = {"account": per_account, "management": management}
        self._burst = burst
        self._pacers: dict[str, Pacer] = {}

    async def wait(self, kind: str, bucket: str) -> None:
        """Wait for a slot of ``bucket`` (an account id, or the key) of ``kind``."""
        rate = self._rates[kind]
        if rate is None:
            return
        pacer = self._pacers.get(bucket)
        if pacer is None:
            pacer = self._pacers[bucket] = Pacer(rate, self._burst)
        await pacer.wait()
