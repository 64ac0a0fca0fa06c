"""Small frozen settings objects for ``AsyncFxSocket``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from ._backoff import Backoff

__all__ = [
    "RateLimit",
    "RetryPolicy",
    "StreamPolicy",
    "Timeouts",
    "WatcherPolicy",
    "always_open",
    "forex_hours",
]


def _positive(owner: object, **values: float | None) -> None:
    for name, value in values.items():
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{type(owner).__name__}.{name} must be a positive number")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait. ``request`` bounds one REST attempt from connect to last byte."""

    connect: float = 10.0
    request: float = 30.0

    def __post_init__(self) -> None:
        _positive(self, connect=self.connect, request=self.request)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How idempotent requests are retried on connection errors, timeouts, 429 and 5xx.

    Delays grow exponentially from ``initial_delay`` to ``max_delay`` with
    jitter; a ``Retry-After`` from the server is honoured up to
    ``retry_after_cap``. ``max_attempts`` counts the first try; ``max_elapsed``
    bounds the whole call. ``RetryPolicy(max_attempts=1)`` turns retries off.
    """

    max_attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_elapsed: float = 60.0
    retry_after_cap: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1 (the first try)")
        _positive(
            self,
            initial_delay=self.initial_delay,
            max_delay=self.max_delay,
            max_elapsed=self.max_elapsed,
            retry_after_cap=self.retry_after_cap,
        )
        if self.initial_delay > self.max_delay:
            raise ValueError("RetryPolicy needs initial_delay <= max_delay")

    @property
    def backoff(self) -> Backoff:
        """The delays between attempts: doubling, up to a quarter less at random."""
        return Backoff(self.initial_delay, self.max_delay, factor=2.0, jitter=0.25)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Client-side request pacing, so the server never has to answer 429.

    ``per_account`` requests per second for each account's routes,
    ``management`` per second for the key's ``/v1/accounts`` routes; ``burst``
    requests may go at once. The default burst is half the server's bucket, so
    that network jitter cannot push arrivals over the server's limit. ``None``
    for a rate turns pacing off.
    """

    per_account: float | None = 60.0
    management: float | None = 60.0
    burst: int = 30

    def __post_init__(self) -> None:
        _positive(self, per_account=self.per_account, management=self.management)
        if self.burst < 1:
            raise ValueError("RateLimit.burst must be at least 1")


@dataclass(frozen=True, slots=True)
class WatcherPolicy:
    """How the account watcher polls while accounts are ``connecting``.

    The interval starts at ``initial_interval`` and grows by ``factor`` up to
    ``max_interval`` (with jitter); a new link starts it again from the start.
    """

    initial_interval: float = 1.0
    max_interval: float = 10.0
    factor: float = 1.5

    def __post_init__(self) -> None:
        _positive(
            self,
            initial_interval=self.initial_interval,
            max_interval=self.max_interval,
            factor=self.factor,
        )
        if self.factor < 1 or self.initial_interval > self.max_interval:
            raise ValueError("WatcherPolicy needs factor >= 1 and initial_interval <= max_interval")

    @property
    def backoff(self) -> Backoff:
        """The intervals between polling rounds: growing by ``factor``, up to a fifth less."""
        return Backoff(self.initial_interval, self.max_interval, factor=self.factor, jitter=0.2)


def forex_hours(now: datetime) -> bool:
    """Whether the FX market is open: Sunday 22:00 to Friday 22:00 UTC.

    Only used to decide whether silence on a quote subscription means a dead
    stream; pass your own to ``StreamPolicy(market_open=...)`` for other hours.
    """
    now = now.astimezone(UTC) if now.tzinfo else now
    weekday, hour = now.weekday(), now.hour  # Monday is 0
    if weekday == 5:
        return False
    if weekday == 4:
        return hour < 22
    if weekday == 6:
        return hour >= 22
    return True


def always_open(now: datetime) -> bool:
    """A market that never closes (the simulator's)."""
    return True


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """How the WebSocket stream stays alive and how consumers are buffered.

    - ``ping_interval``: seconds between application pings.
    - ``dead_after``: a connection with no frame at all for this long is dead.
    - ``quote_silence``: a connection whose quote subscriptions receive
      nothing for this long while ``market_open(now)`` is dead (``None``: off).
    - ``reconnect_initial`` / ``reconnect_max``: the jittered exponential
      backoff between reconnects; ``max_reconnects`` bounds consecutive
      failed attempts (``None``: forever).
    - ``subscribe_timeout``: how long a subscribe may wait for its ack.
    - ``quote_buffer`` / ``event_buffer``: default per-consumer capacities.
    - ``transport``: the WebSocket client: ``"aiohttp"`` (the default),
      ``"picows"`` (faster at high quote rates; ``pip install
      'fxsocket-async[fast]'``, else the session refuses to start with
      ``ConfigurationError``), or ``"auto"`` (picows when installed, else
      aiohttp). ``fx.stats()["streams"][...].transport`` shows which one runs.
    """

    ping_interval: float = 10.0
    dead_after: float = 25.0
    quote_silence: float | None = 30.0
    market_open: Callable[[datetime], bool] = forex_hours
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    max_reconnects: int | None = None
    subscribe_timeout: float = 30.0
    quote_buffer: int = 1024
    event_buffer: int = 10_000
    transport: Literal["aiohttp", "picows", "auto"] = "aiohttp"

    def __post_init__(self) -> None:
        if self.transport not in ("aiohttp", "picows", "auto"):
            raise ValueError(
                "StreamPolicy.transport must be 'aiohttp', 'picows' or 'auto', "
                f"not {self.transport!r}"
            )
        _positive(
            self,
            ping_interval=self.ping_interval,
            dead_after=self.dead_after,
            quote_silence=self.quote_silence,
            reconnect_initial=self.reconnect_initial,
            reconnect_max=self.reconnect_max,
            subscribe_timeout=self.subscribe_timeout,
        )
        if self.max_reconnects is not None and self.max_reconnects < 1:
            raise ValueError("StreamPolicy.max_reconnects must be at least 1, or None (forever)")
        if self.quote_buffer < 1 or self.event_buffer < 1:
            raise ValueError("StreamPolicy buffers must hold at least 1 item")
        if self.reconnect_initial > self.reconnect_max:
            raise ValueError("StreamPolicy needs reconnect_initial <= reconnect_max")

    @property
    def reconnect_backoff(self) -> Backoff:
        """The delays between reconnects (and recovery retries): doubling, full jitter."""
        return Backoff(self.reconnect_initial, self.reconnect_max, factor=2.0, jitter=1.0)

    @property
    def liveness_tick(self) -> float:
        """How often the liveness deadlines are checked: a fifth of the shortest, at most 1 s."""
        deadlines = [self.ping_interval, self.dead_after]
        if self.quote_silence is not None:
            deadlines.append(self.quote_silence)
        return min(1.0, min(deadlines) / 5)
