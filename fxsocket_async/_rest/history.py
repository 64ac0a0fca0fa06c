"""Paged history as an async iterator, the next page loading while one is read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Self

import anyio
from anyio.abc import TaskGroup

from .._core.models import HISTORY_DEFAULT_LIMIT, HistoryPage, Trade

if TYPE_CHECKING:
    from .resource import Resource

__all__ = ["HistoryIterator", "ProgressCallback"]

ProgressCallback = Callable[[int, int], None]


class HistoryIterator:
    """Async iterator over history pages; the next page loads while one is consumed."""

    def __init__(
        self,
        resource: Resource,
        *,
        start: datetime | None,
        end: datetime | None,
        symbol: str | None = None,
        order_type: str | None = None,
        page_size: int = HISTORY_DEFAULT_LIMIT,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._resource = resource
        self._start, self._end = start, end
        self._symbol, self._order_type = symbol, order_type
        self._page_size = page_size
        self._progress = progress
        self._buffer: list[Trade] = []
        self._position = 0
        self._offset = 0
        self._total: int | None = None
        self._done = 0
        self._seen: set[str] = set()
        self._next: _Prefetch | None = None

    def __aiter__(self) -> Self:
        return self

    @property
    def total(self) -> int | None:
        """All matching trades, known after the first page."""
        return self._total

    async def _fetch(self, offset: int) -> HistoryPage:
        return await self._resource._history_page(
            offset, self._page_size, self._start, self._end, self._symbol, self._order_type
        )

    async def __anext__(self) -> Trade:
        while self._position >= len(self._buffer):
            if self._total is not None and (self._offset >= self._total or not self._buffer):
                raise StopAsyncIteration
            if self._next is not None:
                page = await self._next.result()
            else:
                page = await self._fetch(self._offset)
            self._next = None
            self._total = page.total
            self._offset += len(page.trades)
            self._buffer = [t for t in page.trades if t.id not in self._seen]
            self._seen.update(t.id for t in self._buffer)
            self._position = 0
            self._done += len(self._buffer)
            if self._progress is not None:
                self._progress(self._done, self._total)
            if page.trades and self._offset < self._total:
                self._next = _Prefetch(self._resource._tasks, self._fetch, self._offset)
            elif not page.trades:
                raise StopAsyncIteration
        trade = self._buffer[self._position]
        self._position += 1
        return trade

    async def aclose(self) -> None:
        """Stop early; a page being prefetched is abandoned."""
        if self._next is not None:
            self._next.cancel()
            self._next = None


class _Prefetch:
    """A page request running in the session's task group while the caller reads.

    Its failure is kept for ``result()`` rather than raised in the task group,
    so a failed prefetch cannot end the session.
    """

    def __init__(
        self, tasks: TaskGroup, fetch: Callable[[int], Awaitable[HistoryPage]], offset: int
    ) -> None:
        self._done = anyio.Event()
        self._scope = anyio.CancelScope()
        self._page: HistoryPage | None = None
        self._error: BaseException | None = None
        tasks.start_soon(self._run, fetch, offset)

    async def _run(self, fetch: Callable[[int], Awaitable[HistoryPage]], offset: int) -> None:
        with self._scope:
            try:
                self._page = await fetch(offset)
            except Exception as exc:
                self._error = exc
        self._done.set()

    async def result(self) -> HistoryPage:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        if self._page is None:
            raise anyio.get_cancelled_exc_class()()
        return self._page

    def cancel(self) -> None:
        self._scope.cancel()
