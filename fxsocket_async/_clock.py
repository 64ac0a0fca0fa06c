"""Time, injected: every wait of the library asks a ``Clock``.

Pacing, liveness, the account watcher, retries and reconnects read and sleep
on the session's clock, so tests can run them on ``FakeClock`` (time moves
only when the test says so) instead of waiting in real seconds.
"""

from __future__ import annotations

import builtins
import heapq
import itertools
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

import anyio
import anyio.lowlevel

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """What the library needs of time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals)."""
        ...

    def wall(self) -> datetime:
        """The current UTC time (for timestamps users read)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of this clock's time."""
        ...

    def fail_after(self, seconds: float) -> AbstractContextManager[anyio.CancelScope]:
        """A scope that raises the builtin ``TimeoutError`` after ``seconds`` of this clock."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic``, ``datetime.now(UTC)`` and anyio's sleep."""

    def __repr__(self) -> str:
        return "SystemClock()"

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)

    def fail_after(self, seconds: float) -> AbstractContextManager[anyio.CancelScope]:
        return anyio.fail_after(seconds)


class FakeClock:
    """A clock that moves only when told: ``advance(seconds)`` or ``jump()``.

    Sleepers wake in deadline order as time passes them; ``fail_after``
    scopes expire on this clock too. ``wall()`` starts at ``start`` and moves
    with ``monotonic()``.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = 0.0
        self._start = start or datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        self._timers: list[tuple[float, int, anyio.Event | anyio.CancelScope]] = []
        self._order = itertools.count()
        self._expired: set[int] = set()

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now:g})"

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._start + timedelta(seconds=self._now)

    @property
    def sleepers(self) -> int:
        """How many sleeps and deadlines are waiting for time to pass."""
        return sum(1 for *_, t in self._timers if not _fired(t))

    def next_deadline(self) -> float | None:
        """When the earliest sleeper wakes, or ``None``."""
        self._drop_fired()
        return self._timers[0][0] if self._timers else None

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        heapq.heappush(self._timers, (self._now + seconds, next(self._order), event))
        try:
            await event.wait()
        finally:
            if not event.is_set():  # cancelled: this sleeper no longer counts
                self._forget(event)

    @contextmanager
    def fail_after(self, seconds: float) -> Iterator[anyio.CancelScope]:
        scope = anyio.CancelScope()
        heapq.heappush(self._timers, (self._now + seconds, next(self._order), scope))
        try:
            with scope:
                yield scope
        finally:
            expired = id(scope) in self._expired
            self._expired.discard(id(scope))
            self._forget(scope)
        if expired and scope.cancelled_caught:
            raise builtins.TimeoutError

    def advance(self, seconds: float) -> None:
        """Move time forward and wake everything whose deadline has passed."""
        if seconds < 0:
            raise ValueError("a FakeClock never goes back")
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, deadline)
            if isinstance(timer, anyio.CancelScope):
                self._expired.add(id(timer))
                timer.cancel()
            else:
                timer.set()
        self._now = target

    def jump(self) -> float:
        """Advance to the earliest deadline (if any); return the seconds moved."""
        deadline = self.next_deadline()
        if deadline is None:
            return 0.0
        moved = max(0.0, deadline - self._now)
        self.advance(moved)
        return moved

    def _drop_fired(self) -> None:
        while self._timers and _fired(self._timers[0][2]):
            heapq.heappop(self._timers)

    def _forget(self, timer: anyio.Event | anyio.CancelScope) -> None:
        self._timers = [t for t in self._timers if t[2] is not timer]
        heapq.heapify(self._timers)


def _fired(timer: anyio.Event | anyio.CancelScope) -> bool:
    if isinstance(timer, anyio.CancelScope):
        return timer.cancel_called
    return timer.is_set()
