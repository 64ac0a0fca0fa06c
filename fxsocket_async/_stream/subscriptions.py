"""What ``fx.quotes(...)`` and ``fx.events(...)`` return: async context managers and iterators.

Entering subscribes (waiting for the server's ack); leaving, breaking out of
``async for`` inside the block, or cancellation unsubscribes when this was
the last local consumer. Nothing runs in the background per subscription.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import msgspec

from .._core.models import Quote
from .._exceptions import SessionClosedError
from .fanout import EventBuffer, QuoteBuffer
from .stats import SubscriptionStats

if TYPE_CHECKING:
    from .stream import Stream

__all__ = ["EventSubscription", "QuoteBatches", "QuoteSubscription"]


class _Subscription(abc.ABC):
    def __init__(self, stream: Stream, account_id: str) -> None:
        self._stream = stream
        self.account_id = account_id
        self._state = "new"

    def _check_open(self) -> None:
        if self._state != "open":
            raise SessionClosedError(
                "iterate a subscription inside its block: "
                "'async with fx.quotes(...) as quotes: async for q in quotes: ...'"
            )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Unsubscribe (if this was the last consumer) and end iteration."""
        if self._state != "open":
            return
        self._state = "closed"
        # Leaving never waits: the unsubscribe is queued for the socket's writer.
        self._remove()

    @abc.abstractmethod
    def _remove(self) -> None:
        """Stop this consumer's routes (each kind has its own)."""


class QuoteSubscription(_Subscription):
    """Quotes of some symbols of one account, delivered as ``Quote`` structs.

    See ``_fanout.QuoteBuffer`` for the conflate / all policies.
    """

    def __init__(
        self, stream: Stream, account_id: str, symbols: list[str], buffer: QuoteBuffer
    ) -> None:
        super().__init__(stream, account_id)
        self.symbols = symbols
        self._buffer = buffer

    def __repr__(self) -> str:
        return f"QuoteSubscription(account_id={self.account_id!r}, symbols={self.symbols!r})"

    async def __aenter__(self) -> Self:
        """Subscribe. Raises ``SubscriptionRefusedError``, ``TimeoutError`` or the
        stream's fatal error (``AuthenticationError``...)."""
        await self._stream.add_quotes(self.account_id, self.symbols, self._buffer)
        self._state = "open"
        return self

    def _remove(self) -> None:
        self._buffer.close()
        self._stream.remove_quotes(self.account_id, self.symbols, self._buffer)

    def __aiter__(self) -> QuoteBuffer:
        """Iterate the buffer itself: no wrapper runs per quote."""
        self._check_open()
        return self._buffer

    def __anext__(self) -> Awaitable[Quote]:
        """The next quote. Raises ``ConsumerOverflowError`` (mode ``all``) or the
        stream's fatal error."""
        # A plain method returning the buffer's coroutine: one frame less per quote.
        if self._state != "open" and not self._buffer.depth:
            self._check_open()
        return self._buffer.get()

    def batches(self) -> QuoteBatches:
        """Iterate lists of every quote waiting, for collectors: one wake-up per batch."""
        self._check_open()
        return QuoteBatches(self._buffer)

    def stats(self) -> SubscriptionStats:
        """Delivered, conflated (skipped) and dropped counts, buffer depth, newest quote age."""
        stats = self._buffer.stats()
        age = self._stream.newest_quote_age()
        return stats if age is None else _with_age(stats, age)


class QuoteBatches:
    """``async for batch in quotes.batches()``: each batch is a non-empty list."""

    def __init__(self, buffer: QuoteBuffer) -> None:
        self._buffer = buffer

    def __aiter__(self) -> Self:
        return self

    def __anext__(self) -> Awaitable[list[Quote]]:
        return self._buffer.get_batch()


class EventSubscription(_Subscription):
    """Order, account and status events of one account, lossless and in order.

    Yields ``OrderOpened`` ... ``AccountStatusChanged``, ``StreamGap`` before
    recovered events, and ``UnknownEvent`` (unless ``include_unknown=False``).
    """

    def __init__(self, stream: Stream, account_id: str, buffer: EventBuffer):
        super().__init__(stream, account_id)
        self._buffer = buffer

    def __repr__(self) -> str:
        return f"EventSubscription(account_id={self.account_id!r})"

    async def __aenter__(self) -> Self:
        """Subscribe. Raises ``SubscriptionRefusedError``, ``TimeoutError``, a REST
        error from reading the account's orders, or the stream's fatal error."""
        await self._stream.add_events(self.account_id, self._buffer)
        self._state = "open"
        return self

    def _remove(self) -> None:
        self._buffer.close()
        self._stream.remove_events(self.account_id, self._buffer)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        """The next event. Raises ``ConsumerOverflowError`` or the stream's fatal error."""
        if self._state != "open" and not self._buffer.depth:
            self._check_open()
        return await self._buffer.get()

    def stats(self) -> SubscriptionStats:
        return self._buffer.stats()


def _with_age(stats: SubscriptionStats, age: float) -> SubscriptionStats:
    return msgspec.structs.replace(stats, newest_quote_age=age)
