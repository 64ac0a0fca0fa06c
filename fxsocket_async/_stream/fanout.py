"""Per-consumer buffers: how one decoded frame reaches many consumers.

The reader task calls ``push`` on every buffer subscribed to a frame; that is
the hot path, so a push is a deque append and, at most once per batch, the
completion of the one future the consumer sleeps on. No task, queue or dict is
made per message.

Overflow policy, stated per buffer kind:

- ``QuoteBuffer`` in ``conflate`` mode (the default): quotes are delivered in
  order while the consumer keeps up. When ``capacity`` quotes are waiting, the
  consumer is *lagging*: the backlog collapses to the newest quote per symbol
  and, until it catches up (reads the buffer empty), every new quote replaces
  its symbol's entry. It never reads a stale backlog, memory is bounded by the
  number of symbols, and every skipped quote is counted in ``conflated``.
- ``QuoteBuffer`` in ``all`` mode: every tick, bounded; overflow ends that
  consumer with ``ConsumerOverflowError`` (counted in ``dropped``).
- ``EventBuffer``: lossless, bounded; overflow ends that consumer alone with
  ``ConsumerOverflowError``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Final, Generic, Literal, TypeAlias, TypeVar

from .._core.models import Quote
from .._exceptions import ConsumerOverflowError, FxSocketError
from .stats import SubscriptionStats

__all__ = [
    "EventBuffer",
    "QuoteBuffer",
    "QuoteMode",
]

QuoteMode: TypeAlias = Literal["conflate", "all"]
DEFAULT_QUOTE_CAPACITY: Final = 1024
DEFAULT_EVENT_CAPACITY: Final = 10_000

T = TypeVar("T")


class _Buffer(Generic[T]):
    """Storage and wake-up shared by both buffer kinds."""

    __slots__ = ("_error", "_items", "_waiter", "capacity", "closed", "dropped")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a buffer needs a capacity of at least 1")
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._error: FxSocketError | None = None
        self.closed = False
        self.dropped = 0

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def fail(self, error: FxSocketError) -> None:
        """End this consumer with ``error`` (raised at its next read)."""
        if self._error is None and not self.closed:
            self._error = error
        self._wake()

    def close(self) -> None:
        """End this consumer's iteration once it has read what is buffered."""
        self.closed = True
        self._wake()

    def _ready(self) -> bool:
        return bool(self._items)

    async def _wait(self) -> None:
        """Sleep until there is something to read, or raise why there never will be."""
        while not self._ready():
            if self._error is not None:
                raise self._error
            if self.closed:
                raise StopAsyncIteration
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        if self._error is not None:
            raise self._error

    @property
    def depth(self) -> int:
        return len(self._items)


class QuoteBuffer(_Buffer[Quote]):
    """One quote consumer's buffer (see the module docstring for its policy)."""

    __slots__ = ("_latest", "conflated", "mode", "pushed")

    def __init__(self, capacity: int = DEFAULT_QUOTE_CAPACITY, mode: QuoteMode = "conflate"):
        if mode not in ("conflate", "all"):
            raise ValueError("mode must be 'conflate' or 'all'")
        super().__init__(capacity)
        self.mode = mode
        # While lagging: symbol -> newest quote, in order of first arrival.
        self._latest: dict[str, Quote] | None = None
        self.conflated = 0
        self.pushed = 0

    def push_many(self, quotes: list[Quote]) -> None:
        """Push a run of quotes: one extend and at most one wake-up when they fit."""
        items = self._items
        if self._latest is None and len(items) + len(quotes) <= self.capacity:
            items.extend(quotes)
            self.pushed += len(quotes)
            if self._waiter is not None:
                self._wake()
            return
        for quote in quotes:
            self.push(quote)

    def push(self, quote: Quote) -> None:
        self.pushed += 1
        latest = self._latest
        if latest is not None:
            if quote.symbol in latest:
                self.conflated += 1
            latest[quote.symbol] = quote
        elif len(self._items) < self.capacity:
            self._items.append(quote)
        elif self.mode == "conflate":
            self._start_lagging(quote)
        else:
            self.dropped += 1
            if self._error is None:
                self.fail(
                    ConsumerOverflowError(
                        f"a quote consumer in 'all' mode let {self.capacity} quotes pile up; "
                        "read faster, raise its buffer, or use mode='conflate'"
                    )
                )
            return
        if self._waiter is not None:
            self._wake()

    def _start_lagging(self, quote: Quote) -> None:
        latest: dict[str, Quote] = {}
        for waiting in self._items:
            latest[waiting.symbol] = waiting
        latest[quote.symbol] = quote
        self.conflated += len(self._items) + 1 - len(latest)
        self._items.clear()
        self._latest = latest

    def _ready(self) -> bool:
        return bool(self._items) or bool(self._latest)

    def _take_one(self) -> Quote:
        if self._items:
            return self._items.popleft()
        latest = self._latest
        assert latest
        quote = latest.pop(next(iter(latest)))
        if not latest:
            self._latest = None  # caught up: back to in-order delivery
        return quote

    def __aiter__(self) -> QuoteBuffer:
        return self

    async def get(self) -> Quote:
        items = self._items
        if items and self._error is None:  # the hot path: a quote is waiting, in order
            return items.popleft()
        if not self._ready():
            await self._wait()
        elif self._error is not None:
            raise self._error
        return self._take_one()

    __anext__ = get  # ``async for`` over a subscription iterates its buffer directly

    async def get_batch(self) -> list[Quote]:
        """Everything waiting, oldest first (at least one quote)."""
        if not self._ready():
            await self._wait()
        elif self._error is not None:
            raise self._error
        batch = list(self._items)
        self._items.clear()
        if self._latest is not None:
            batch.extend(self._latest.values())
            self._latest = None
        return batch

    @property
    def depth(self) -> int:
        return len(self._items) + (len(self._latest) if self._latest else 0)

    @property
    def delivered(self) -> int:
        # Counted on the producer's side, so reading a quote costs no bookkeeping.
        return self.pushed - self.conflated - self.dropped - self.depth

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(
            delivered=self.delivered,
            conflated=self.conflated,
            dropped=self.dropped,
            depth=self.depth,
        )


class EventBuffer(_Buffer[Any]):
    """One events consumer's lossless buffer."""

    __slots__ = ("delivered", "include_unknown")

    def __init__(self, capacity: int = DEFAULT_EVENT_CAPACITY, include_unknown: bool = True):
        super().__init__(capacity)
        self.include_unknown = include_unknown
        self.delivered = 0

    def push(self, event: Any) -> None:
        if self._error is not None or self.closed:
            return
        if len(self._items) >= self.capacity:
            self.dropped += 1
            self.fail(
                ConsumerOverflowError(
                    f"an events consumer let {self.capacity} events pile up and was ended "
                    "(events are never dropped silently); read faster or raise its buffer"
                )
            )
            return
        self._items.append(event)
        if self._waiter is not None:
            self._wake()

    async def get(self) -> Any:
        if not self._items:
            await self._wait()
        elif self._error is not None:
            raise self._error
        self.delivered += 1
        return self._items.popleft()

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(
            delivered=self.delivered, conflated=0, dropped=self.dropped, depth=self.depth
        )
