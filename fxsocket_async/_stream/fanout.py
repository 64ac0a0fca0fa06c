"""Per-consumer buffers: how one decoded frame reaches many consumers.

The reader hands every run of quotes of one symbol to each buffer subscribed
to it; that is the hot path, so a push is a deque extend (or one dict store)
and, at most once per batch, the completion of the one future the consumer
sleeps on. No task, queue or dict is made per message.

Delivery policy, stated per buffer kind:

- ``LatestQuotes`` (``mode="conflate"``, the default): latest-value. A
  consumer never reads a quote when a newer quote of the same symbol has
  already reached the library: a newer quote replaces the waiting one of its
  symbol (which keeps its place in line), and every replaced quote is counted
  in ``conflated``. A consumer that reads each quote before the next of its
  symbol arrives sees every one; memory is one quote per symbol.
- ``QuoteQueue`` (``mode="all"``): every tick, in order, bounded by
  ``capacity``; overflow ends that consumer with ``ConsumerOverflowError``
  (counted in ``dropped``). For collectors.
- ``EventBuffer``: lossless, bounded; overflow ends that consumer alone with
  ``ConsumerOverflowError``.
- ``BarBuffer``: an ``EventBuffer`` of bars where an update of the forming bar
  replaces the waiting update of that same bar (counted in ``conflated``):
  every bar's newest state is read, no bar is skipped.
- ``LatestValue``: one slot, the newest state (open-orders snapshots, the
  terminal's status): a state replaced before it was read is counted in
  ``conflated``; only the newest one matters.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Final, Generic, Literal, TypeAlias, TypeVar

from .._core.models import Quote
from .._exceptions import ConsumerOverflowError, FxSocketError, ValidationError
from .stats import SubscriptionStats

__all__ = [
    "QUOTE_MODES",
    "BarBuffer",
    "EventBuffer",
    "LatestQuotes",
    "LatestValue",
    "QuoteBuffer",
    "QuoteMode",
    "QuoteQueue",
    "quote_buffer",
]

QuoteMode: TypeAlias = Literal["conflate", "all"]
DEFAULT_QUOTE_CAPACITY: Final = 1024
DEFAULT_EVENT_CAPACITY: Final = 10_000

T = TypeVar("T")


class _Buffer(Generic[T]):
    """Storage and wake-up shared by both buffer kinds."""

    __slots__ = ("_error", "_items", "_waiter", "closed", "dropped")

    def __init__(self) -> None:
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
            # An ``iterate`` generator pops from the deque it holds without looking at
            # ``_error`` per item: emptying that deque (its items move to a new one, still
            # counted in ``depth``) sends it to ``_more``, which raises ``error``.
            items = self._items
            self._items = items.copy()
            items.clear()
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

    async def _more(self) -> bool:
        """For an iterating generator: wait as ``_wait`` does, and say whether the
        iteration is over (a generator may not let ``StopAsyncIteration`` out)."""
        try:
            await self._wait()
        except StopAsyncIteration:
            return True
        return False

    @property
    def depth(self) -> int:
        return len(self._items)


def _checked(capacity: int) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValidationError(
            f"a buffer needs a capacity of at least 1 item, not {capacity!r}",
            code="invalid_buffer",
        )
    return capacity


class LatestQuotes(_Buffer[str]):
    """A quote consumer in ``conflate`` mode: the newest quote of each symbol, in line.

    ``_items`` holds the symbols waiting, in the order they started waiting;
    ``_latest`` the newest quote of each.
    """

    __slots__ = ("_latest", "conflated", "pushed")

    mode: QuoteMode = "conflate"
    capacity: int | None = None  # never overflows: one quote per symbol

    def __init__(self) -> None:
        super().__init__()
        self._latest: dict[str, Quote] = {}
        self.conflated = 0
        self.pushed = 0

    def push_many(self, quotes: list[Quote]) -> None:
        """Take a run of quotes of one symbol (what the reader hands over): only the last counts."""
        count = len(quotes)
        newest = quotes[-1]
        symbol = newest.symbol
        self.pushed += count
        latest = self._latest
        if symbol in latest:
            self.conflated += count
        else:
            self.conflated += count - 1
            self._items.append(symbol)
        latest[symbol] = newest
        if self._waiter is not None:
            self._wake()

    def push(self, quote: Quote) -> None:
        self.push_many([quote])

    async def get(self) -> Quote:
        items = self._items
        if items and self._error is None:  # the hot path: a quote is waiting
            return self._latest.pop(items.popleft())
        if not items:
            await self._wait()
        elif self._error is not None:
            raise self._error
        return self._latest.pop(self._items.popleft())

    async def iterate(self) -> AsyncIterator[Quote]:
        """What ``async for`` over the subscription runs: ``get()`` in a loop, in one
        generator frame that is resumed per quote rather than a coroutine made per quote.
        A quote leaves the buffer only as it is yielded, so breaking out loses none."""
        latest = self._latest
        while True:
            if self._error is None:
                items = self._items  # ``fail`` empties it: see there
                pop = items.popleft
                while items:
                    yield latest.pop(pop())
            if await self._more():
                return

    async def get_batch(self) -> list[Quote]:
        """The newest quote of every symbol waiting, in line (at least one)."""
        if not self._items:
            await self._wait()
        elif self._error is not None:
            raise self._error
        latest = self._latest
        batch = [latest[symbol] for symbol in self._items]
        self._items.clear()
        latest.clear()
        return batch

    @property
    def delivered(self) -> int:
        # Counted on the producer's side, so reading a quote costs no bookkeeping.
        return self.pushed - self.conflated - self.depth

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(
            delivered=self.delivered, conflated=self.conflated, dropped=0, depth=self.depth
        )


class QuoteQueue(_Buffer[Quote]):
    """A quote consumer in ``all`` mode: every tick in order, up to ``capacity`` waiting."""

    __slots__ = ("capacity", "pushed")

    mode: QuoteMode = "all"
    conflated = 0

    def __init__(self, capacity: int = DEFAULT_QUOTE_CAPACITY) -> None:
        super().__init__()
        self.capacity: int = _checked(capacity)
        self.pushed = 0

    def push_many(self, quotes: list[Quote]) -> None:
        """Push a run of quotes: one extend and at most one wake-up when they fit."""
        items = self._items
        if len(items) + len(quotes) <= self.capacity:
            items.extend(quotes)
            self.pushed += len(quotes)
            if self._waiter is not None:
                self._wake()
            return
        for quote in quotes:
            self.push(quote)

    def push(self, quote: Quote) -> None:
        self.pushed += 1
        if len(self._items) >= self.capacity:
            self.dropped += 1
            if self._error is None:
                self.fail(
                    ConsumerOverflowError(
                        f"a quote consumer in 'all' mode let {self.capacity} quotes pile up; "
                        "read faster, raise its buffer, or use mode='conflate'"
                    )
                )
            return
        self._items.append(quote)
        if self._waiter is not None:
            self._wake()

    async def get(self) -> Quote:
        items = self._items
        if items and self._error is None:  # the hot path: a quote is waiting, in order
            return items.popleft()
        if not items:
            await self._wait()
        elif self._error is not None:
            raise self._error
        return self._items.popleft()

    async def iterate(self) -> AsyncIterator[Quote]:
        """What ``async for`` over the subscription runs (see ``LatestQuotes.iterate``)."""
        while True:
            if self._error is None:
                items = self._items  # ``fail`` empties it: see there
                pop = items.popleft
                while items:
                    yield pop()
            if await self._more():
                return

    async def get_batch(self) -> list[Quote]:
        """Everything waiting, oldest first (at least one quote)."""
        if not self._items:
            await self._wait()
        elif self._error is not None:
            raise self._error
        batch = list(self._items)
        self._items.clear()
        return batch

    @property
    def delivered(self) -> int:
        return self.pushed - self.dropped - self.depth

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(
            delivered=self.delivered, conflated=0, dropped=self.dropped, depth=self.depth
        )


QuoteBuffer: TypeAlias = LatestQuotes | QuoteQueue
QUOTE_MODES: Final = ("conflate", "all")


def quote_buffer(
    mode: QuoteMode = "conflate", capacity: int = DEFAULT_QUOTE_CAPACITY
) -> QuoteBuffer:
    """The buffer of one quote consumer in ``mode`` (``capacity`` bounds ``all`` mode)."""
    if mode == "conflate":
        return LatestQuotes()
    if mode == "all":
        return QuoteQueue(capacity)
    raise ValidationError(
        f"mode must be 'conflate' (the newest quote per symbol) or 'all' (every tick), "
        f"not {mode!r}",
        code="invalid_mode",
    )


class EventBuffer(_Buffer[Any]):
    """One events consumer's lossless buffer."""

    __slots__ = ("capacity", "delivered", "include_unknown")

    def __init__(self, capacity: int = DEFAULT_EVENT_CAPACITY, include_unknown: bool = True):
        super().__init__()
        self.capacity: int = _checked(capacity)
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


class BarBuffer(EventBuffer):
    """Bars of one symbol and timeframe: the newest state of each bar, none skipped."""

    __slots__ = ("conflated",)

    def __init__(self, capacity: int = DEFAULT_EVENT_CAPACITY) -> None:
        super().__init__(capacity, include_unknown=False)
        self.conflated = 0

    def push(self, event: Any) -> None:
        items = self._items
        if items and self._error is None and not self.closed:
            waiting = items[-1]
            if waiting.candle.time == event.candle.time:
                items[-1] = event  # the same bar, formed further
                self.conflated += 1
                return
        super().push(event)

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(
            delivered=self.delivered,
            conflated=self.conflated,
            dropped=self.dropped,
            depth=self.depth,
        )


class LatestValue(_Buffer[Any]):
    """A consumer of states: it reads the newest one; replaced ones are counted."""

    __slots__ = ("conflated", "delivered")

    include_unknown = False

    def __init__(self) -> None:
        super().__init__()
        self.conflated = 0
        self.delivered = 0

    def push(self, item: Any) -> None:
        if self._error is not None or self.closed:
            return
        items = self._items
        if items:
            items[0] = item
            self.conflated += 1
            return
        items.append(item)
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
            delivered=self.delivered, conflated=self.conflated, dropped=0, depth=self.depth
        )
