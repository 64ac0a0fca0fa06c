"""What ``fx.quotes(...)`` and ``fx.events(...)`` return: async context managers and iterators.

Entering subscribes (waiting for the server's ack); leaving, breaking out of
``async for`` inside the block, or cancellation unsubscribes when this was
the last local consumer. Nothing runs in the background per subscription.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeAlias, TypeVar

import msgspec

from .._core.dialect import Topic
from .._core.models import Quote
from .._exceptions import SessionClosedError
from .fanout import EventBuffer, LatestValue, QuoteBuffer
from .stats import SubscriptionStats

if TYPE_CHECKING:
    from .stream import Stream

__all__ = [
    "EventSubscription",
    "QuoteBatches",
    "QuoteIteration",
    "QuoteSubscription",
    "StreamResolver",
    "TopicSubscription",
]

#: Finds the socket that carries an account (a terminal's own, or the session's).
StreamResolver: TypeAlias = "Callable[[], Awaitable[Stream]]"
T = TypeVar("T")


def check_open(state: str) -> None:
    """Raises ``SessionClosedError`` unless a subscription in ``state`` may be iterated."""
    if state != "open":
        raise SessionClosedError(
            "iterate a subscription inside its block: "
            "'async with fx.quotes(...) as quotes: async for q in quotes: ...'"
        )


class QuoteIteration:
    """``async for q in quotes`` and ``quotes.batches()`` over a subscription's buffer,
    the same for the local subscription and the bridge's remote one: each keeps its
    ``_buffer`` and its ``_state`` (``new``, ``open``, ``closed``)."""

    _buffer: QuoteBuffer
    _state: str

    def __aiter__(self) -> AsyncIterator[Quote]:
        """The buffer's own generator: no wrapper runs per quote."""
        check_open(self._state)
        return self._buffer.iterate()

    def __anext__(self) -> Awaitable[Quote]:
        """The next quote. Raises ``ConsumerOverflowError`` (mode ``all``) or the
        stream's fatal error."""
        # A plain method returning the buffer's coroutine: one frame less per quote.
        if self._state != "open" and not self._buffer.depth:
            check_open(self._state)
        return self._buffer.get()

    def batches(self) -> QuoteBatches:
        """Iterate lists of every quote waiting, for collectors: one wake-up per batch."""
        check_open(self._state)
        return QuoteBatches(self._buffer)


class _Subscription(abc.ABC):
    def __init__(self, resolve: StreamResolver, account_id: str) -> None:
        self._resolve = resolve
        self._stream: Stream | None = None
        self.account_id = account_id
        self._state = "new"

    async def _open(self) -> Stream:
        """The account's socket. Raises what choosing it raises (``FxSocketError``)."""
        if self._state != "new":
            raise SessionClosedError("a subscription is entered once; make a new one")
        self._stream = await self._resolve()
        return self._stream

    def _check_open(self) -> None:
        check_open(self._state)

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


class QuoteSubscription(QuoteIteration, _Subscription):
    """Quotes of some symbols of one account, delivered as ``Quote`` structs.

    See ``_fanout.QuoteBuffer`` for the conflate / all policies.
    """

    def __init__(
        self, resolve: StreamResolver, account_id: str, symbols: list[str], buffer: QuoteBuffer
    ) -> None:
        super().__init__(resolve, account_id)
        self.symbols = symbols
        self._buffer = buffer

    def __repr__(self) -> str:
        return f"QuoteSubscription(account_id={self.account_id!r}, symbols={self.symbols!r})"

    async def __aenter__(self) -> Self:
        """Subscribe. Raises ``SubscriptionRefusedError``, ``TimeoutError`` or the
        stream's fatal error (``AuthenticationError``...)."""
        stream = await self._open()
        await stream.add_quotes(self.account_id, self.symbols, self._buffer)
        self._state = "open"
        return self

    def _remove(self) -> None:
        self._buffer.close()
        if self._stream is not None:
            self._stream.remove_quotes(self.account_id, self.symbols, self._buffer)

    def stats(self) -> SubscriptionStats:
        """Delivered, conflated (skipped) and dropped counts, buffer depth, newest quote age."""
        stats = self._buffer.stats()
        age = None if self._stream is None else self._stream.newest_quote_age()
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

    def __init__(self, resolve: StreamResolver, account_id: str, buffer: EventBuffer):
        super().__init__(resolve, account_id)
        self._buffer = buffer

    def __repr__(self) -> str:
        return f"EventSubscription(account_id={self.account_id!r})"

    async def __aenter__(self) -> Self:
        """Subscribe. Raises ``SubscriptionRefusedError``, ``TimeoutError``, a REST
        error from reading the account's orders, or the stream's fatal error."""
        stream = await self._open()
        await stream.add_events(self.account_id, self._buffer)
        self._state = "open"
        return self

    def _remove(self) -> None:
        self._buffer.close()
        if self._stream is not None:
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


class TopicSubscription(_Subscription, Generic[T]):
    """Bars, open-orders snapshots or the terminal's status of one account.

    Bars are lossless (``EventBuffer``: a consumer that lets them pile up is
    ended with ``ConsumerOverflowError``); snapshots and statuses are states,
    so a consumer reads the newest (``LatestValue``, replaced ones counted).
    """

    def __init__(
        self, resolve: StreamResolver, topic: Topic, buffer: EventBuffer | LatestValue
    ) -> None:
        super().__init__(resolve, topic.account_id)
        self.topic = topic
        self._buffer = buffer

    def __repr__(self) -> str:
        subject = f", {self.topic.symbol!r}" if self.topic.symbol else ""
        return f"TopicSubscription({self.topic.kind}, account_id={self.account_id!r}{subject})"

    async def __aenter__(self) -> Self:
        """Subscribe. Raises ``UnsupportedError`` (the reference routes carry no such
        topic), ``SubscriptionRefusedError``, ``TimeoutError`` or the stream's fatal error."""
        stream = await self._open()
        await stream.add_topic(self.topic, self._buffer)
        self._state = "open"
        return self

    def _remove(self) -> None:
        self._buffer.close()
        if self._stream is not None:
            self._stream.remove_topic(self.topic, self._buffer)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        """The next item. Raises ``ConsumerOverflowError`` (bars) or the stream's fatal error."""
        if self._state != "open" and not self._buffer.depth:
            self._check_open()
        item: T = await self._buffer.get()
        return item

    def stats(self) -> SubscriptionStats:
        return self._buffer.stats()


def _with_age(stats: SubscriptionStats, age: float) -> SubscriptionStats:
    return msgspec.structs.replace(stats, newest_quote_age=age)
