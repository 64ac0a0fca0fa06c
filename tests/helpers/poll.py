"""``poll()``: the one way the suites wait for a condition they cannot be told about.

Only for what has no event to wait on: a server's documented polling
protocol (an account's status), a retry a client makes (a refused handshake).
Bounded in time (``timeout``) and in count (one try per ``interval``), and it
fails with a message naming what never happened.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["poll"]

T = TypeVar("T")


async def poll(
    predicate: Callable[[], T | Awaitable[T]],
    *,
    timeout: float,
    what: str,
    interval: float = 0.01,
) -> T:
    """Call ``predicate`` (plain or async) until it returns something truthy; return that.

    Raises ``AssertionError`` naming ``what`` and the last value seen when it
    is still falsy after ``timeout`` seconds (or ``timeout / interval`` tries).
    Exceptions of ``predicate`` propagate.
    """
    if not (timeout > 0 and interval > 0):
        raise ValueError("poll needs a positive timeout and interval")
    tries = math.ceil(timeout / interval) + 1
    last: T | None = None
    with anyio.move_on_after(timeout):
        for attempt in range(tries):
            if attempt:
                await anyio.sleep(interval)
            result = predicate()
            last = await result if inspect.isawaitable(result) else result
            if last:
                return last
    raise AssertionError(f"{what}: still not true after {timeout:g} s (last: {last!r})")
