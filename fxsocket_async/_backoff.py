"""One policy for every wait that grows: jittered exponential backoff.

REST retries, stream reconnects, recovery snapshot retries and the account
watcher's polling all draw their delays from ``Backoff.delays``, built on the
``backoff`` library's ``expo`` generator; only their parameters differ (see
``_config``). What may be retried at all is decided elsewhere, in one function
per concern (``_core.retry.is_retryable``, the stream's fatal-handshake check).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import backoff

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays from ``initial`` growing by ``factor`` up to ``maximum``, jittered.

    Each delay is drawn uniformly from ``[(1 - jitter) * d, d]``: ``jitter=0``
    is exact, ``jitter=1`` is "full jitter" (anywhere from 0 to ``d``), which
    spreads many clients reconnecting at once.
    """

    initial: float
    maximum: float
    factor: float = 2.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum and self.factor >= 1 and 0 <= self.jitter <= 1):
            raise ValueError(
                "Backoff needs 0 < initial <= maximum, factor >= 1 and 0 <= jitter <= 1"
            )

    def delays(self, rng: random.Random) -> Iterator[float]:
        """An endless iterator of delays; start a new one to start again from ``initial``."""
        raw = backoff.expo(base=self.factor, factor=self.initial, max_value=self.maximum)
        next(raw)  # backoff primes its generators with send(None)
        for ceiling in raw:
            yield ceiling * (1 - self.jitter * rng.random())
