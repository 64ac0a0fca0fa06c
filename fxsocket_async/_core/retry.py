"""What may be retried, and how long to wait: small pure functions.

What may be retried depends on whether the request is idempotent: a GET, a
PATCH with absolute values, a DELETE judged by its reply, or an order POST
carrying its one idempotency key may be sent again after any transient
failure; anything else only after a 429, which proves the server did nothing.
How long to wait comes from the session's ``Backoff`` unless the server said
(``Retry-After``, capped so that a hostile or broken header cannot stall us).
"""

from __future__ import annotations

from .._exceptions import RateLimitedError, ServerError, TerminalNotReadyError, TransportError

__all__ = ["is_retryable", "retry_delay"]


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


def retry_delay(error: BaseException, backoff_delay: float, retry_after_cap: float) -> float:
    """Seconds to wait before the next attempt: the server's ``Retry-After`` (capped)
    when it gave one, else the backoff's delay."""
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        return min(error.retry_after, retry_after_cap)
    return backoff_delay
