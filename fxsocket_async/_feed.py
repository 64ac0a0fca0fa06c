"""A small lossless, bounded feed of changes: what ``watch()`` calls return.

Changes are rare (account statuses, connection states), so the policy is
simple: every change is kept in order; a consumer that lets ``capacity``
changes pile up is ended with ``ConsumerOverflowError`` (others are not
affected); closing ends iteration once what is held has been read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

import anyio

from ._exceptions import ConsumerOverflowError

__all__ = ["Feed"]

T = TypeVar("T")


class Feed(Generic[T]):
    """``async with feed: async for change in feed``; ``on_close`` detaches it from its source."""

    def __init__(self, what: str, capacity: int, on_close: Callable[[Feed[T]], None]) -> None:
        self._what = what
        self._capacity = capacity
        self._on_close = on_close
        self._items: deque[T] = deque()
        self._ready = anyio.Event()
        self._closed = False
        self._overflowed = False

    def push(self, change: T) -> None:
        if self._closed or self._overflowed:
            return
        if len(self._items) >= self._capacity:
            self._overflowed = True
        else:
            self._items.append(change)
        self._ready.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        """The next change. Raises ``ConsumerOverflowError`` if this feed fell behind."""
        while not self._items:
            if self._overflowed:
                raise ConsumerOverflowError(
                    f"this {self._what} fell {self._capacity} changes behind and was ended"
                )
            if self._closed:
                raise StopAsyncIteration
            self._ready = anyio.Event()
            await self._ready.wait()
        return self._items.popleft()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop receiving changes."""
        self.close()

    def close(self) -> None:
        self._closed = True
        self._on_close(self)
        self._ready.set()
