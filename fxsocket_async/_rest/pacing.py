"""Client-side request pacing: one GCRA bucket per account, one per key's management routes.

GCRA ("virtual scheduling") tracks one theoretical arrival time per bucket
instead of counting tokens. It is fed only with requests that really went out:
callers pass a FIFO gate one at a time, and the gate's holder sleeps until
sending now conforms, then records its send and lets the next one through.
Pacing is therefore closed-loop: when the event loop stalls, the requests
waiting behind it do not leave as one burst when it resumes; each one is
checked against what was really sent, just before it is sent. Whatever the
stalls, what leaves never exceeds ``rate`` with bursts of ``burst``.
"""

from __future__ import annotations

from typing import Literal

import anyio

from .._clock import Clock

__all__ = ["Gcra", "Pacer", "Pacers", "PacingKind"]

PacingKind = Literal["account", "management"]


class Gcra:
    """The virtual scheduling state of one bucket: its theoretical arrival time."""

    __slots__ = ("_interval", "_tat", "_tolerance")

    def __init__(self, rate: float, burst: int) -> None:
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._tat = 0.0

    def delay(self, now: float) -> float:
        """Seconds until a request would conform (0: it may go now)."""
        return max(0.0, self._tat - self._tolerance - now)

    def book(self, now: float) -> float:
        """Reserve the next slot; return the seconds to wait before it is due."""
        arrival = max(self._tat, now)
        self._tat = arrival + self._interval
        return max(0.0, arrival - self._tolerance - now)


class Pacer:
    """``rate`` requests per second with bursts of up to ``burst``, closed-loop."""

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self._sent = Gcra(rate, burst)
        self._gate = anyio.Lock()  # FIFO: callers leave in arrival order
        self._clock = clock
        #: How many requests had to wait for their slot.
        self.delayed = 0

    async def wait(self) -> None:
        """Wait until sending now conforms to what was really sent, and record it."""
        async with self._gate:
            while True:
                now = self._clock.monotonic()
                delay = self._sent.delay(now)
                if delay <= 0:
                    break
                self.delayed += 1
                await self._clock.sleep(delay)
            self._sent.book(now)  # no await between the check and the record


class Pacers:
    """The session's pacers, made on first use for each bucket name."""

    def __init__(
        self, per_account: float | None, management: float | None, burst: int, clock: Clock
    ) -> None:
        self._rates: dict[PacingKind, float | None] = {
            "account": per_account,
            "management": management,
        }
        self._burst = burst
        self._clock = clock
        self._pacers: dict[str, Pacer] = {}

    def get(self, kind: PacingKind, bucket: str) -> Pacer | None:
        """The pacer of ``bucket`` (an account id, or the key), or ``None`` when off."""
        rate = self._rates[kind]
        if rate is None:
            return None
        pacer = self._pacers.get(bucket)
        if pacer is None:
            pacer = self._pacers[bucket] = Pacer(rate, self._burst, self._clock)
        return pacer

    async def wait(self, kind: PacingKind, bucket: str) -> None:
        """Wait for a slot of ``bucket`` of ``kind``."""
        pacer = self.get(kind, bucket)
        if pacer is not None:
            await pacer.wait()
