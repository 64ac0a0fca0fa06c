"""Small frozen settings objects for ``AsyncFxSocket``."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RateLimit", "RetryPolicy", "Timeouts", "WatcherPolicy"]


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
