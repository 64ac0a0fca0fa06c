"""Retry policy as small pure functions, applied with the ``backoff`` library.

What may be retried depends on whether the request is idempotent: a GET, a
PATCH with absolute values, a DELETE judged by its reply, or an order POST
carrying its one idempotency key may be sent again after any transient
failure; anything else only after a 429, which proves the server did nothing.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Generator
from typing import TypeVar

import backoff
from backoff.types import Details

from ._config import RetryPolicy
from ._exceptions import (
    FxSocketError,
    RateLimitedError,
    ServerError,
    TerminalNotReadyError,
    TransportError,
)

__all__ = ["backoff_delays", "is_retryable", "retry_delay", "with_retries"]

T = TypeVar("T")


def is_retryable(error: BaseException, *, idempotent: bool) -> bool:
    """Whether sending the request again may succeed and cannot do harm."""
    if isinstance(error, RateLimitedError):
        return True
    if not idempotent:
        return False
    if isinstance(error, TerminalNotReadyError):
        # A state, not a fault: waiting for it is wait_connected()'s job.
        return False
    return isinstance(error, TransportError | ServerError)


def retry_delay(
    policy: RetryPolicy, retry: int, error: BaseException | None, rng: random.Random
) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry).

    A server's ``Retry-After`` wins (capped); otherwise exponential growth up
    to ``max_delay``, less up to a quarter at random so clients spread out.
    """
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        return min(error.retry_after, policy.retry_after_cap)
    # The exponent is bounded so that a long retry budget never overflows a float.
    ceiling = min(policy.max_delay, policy.initial_delay * 2.0 ** min(retry - 1, 64))
    return ceiling * (1 - 0.25 * rng.random())


def backoff_delays(
    policy: RetryPolicy, rng: random.Random
) -> Generator[float, BaseException | None, None]:
    """A ``backoff`` wait generator: it is sent each failure and yields the delay."""
    error = yield 0.0  # backoff primes the generator with send(None)
    retry = 0
    while True:
        retry += 1
        error = yield retry_delay(policy, retry, error, rng)


def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    rng: random.Random,
    on_retry: Callable[[Details], None] | None = None,
) -> Awaitable[T]:
    """Run ``call`` and retry it as ``policy`` and ``is_retryable`` allow."""
    decorated = backoff.on_exception(
        backoff_delays,
        FxSocketError,
        max_tries=policy.max_attempts,
        max_time=policy.max_elapsed,
        giveup=lambda error: not is_retryable(error, idempotent=idempotent),
        jitter=None,  # jitter is applied in retry_delay, which must not blur Retry-After
        on_backoff=on_retry,
        logger=None,
        policy=policy,
        rng=rng,
    )(call)
    return decorated()
