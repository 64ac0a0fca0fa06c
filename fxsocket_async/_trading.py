"""Per-account REST resources: summary, positions, orders, quotes, candles, history."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

import anyio

from ._exceptions import FxSocketError, NotFoundError
from ._protocol import (
    CANDLES_MAX_LIMIT,
    HISTORY_DEFAULT_LIMIT,
    TIMEFRAME_SECONDS,
    AccountSummary,
    Candle,
    CandlesReply,
    CloseOrderReply,
    CreateOrderRequest,
    HistoryPage,
    ModifyOrderReply,
    ModifyOrderRequest,
    OrderReply,
    Position,
    Quote,
    Trade,
    candles_path,
    candles_query,
    history_path,
    history_query,
    order_path,
    orders_path,
    positions_path,
    quote_path,
    summary_path,
)
from ._validation import (
    Remove,
    as_wire_time,
    check_modify,
    check_order,
    check_page_size,
    check_range,
    check_symbol,
    check_timeframe,
)

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ._transport import HttpTransport

__all__ = ["AccountClient", "HistoryIterator", "Orders"]

ProgressCallback = Callable[[int, int], None]
# Candle chunks fetched at once when a long range is split.
CANDLE_CONCURRENCY = 4
_ONE_MS = timedelta(milliseconds=1)


class _Resource:
    def __init__(self, transport: HttpTransport, tasks: TaskGroup, account_id: str | None) -> None:
        self._transport = transport
        self._tasks = tasks
        self.account_id = account_id

    async def _history_page(
        self,
        offset: int,
        limit: int,
        start: datetime | None = None,
        end: datetime | None = None,
        symbol: str | None = None,
        order_type: str | None = None,
    ) -> HistoryPage:
        """One page of ``GET .../history``."""
        query = history_query(start, end, symbol, order_type, offset, limit)
        page: HistoryPage = await self._call(
            "GET", history_path(self.account_id), HistoryPage, params=query
        )
        return page

    async def _call(self, method: str, path: str, reply_type: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("idempotent", True)
        bucket = self.account_id
        if bucket is None:
            bucket = await self._transport.bare_account_bucket()
        return await self._transport.request(
            method, path, auth="account", bucket=bucket, reply_type=reply_type, **kwargs
        )


class Orders(_Resource):
    """Orders of one account: ``fx.account(id).orders``."""

    async def create(
        self,
        symbol: str,
        type: str,
        volume: float,
        *,
        price: float | None = None,
        sl: float | None = None,
        tp: float | None = None,
        comment: str | None = None,
        idempotency_key: str | None = None,
    ) -> OrderReply:
        """Place a market (BUY, SELL) or pending (BUY_LIMIT, ...) order.

        One idempotency key is minted per call (or ``idempotency_key`` is
        used) and sent with every retry, so a retried submission never trades
        twice.

        Raises ``ValidationError`` (before sending) for bad input, and
        ``BrokerRejectedError``, ``PermissionDeniedError``,
        ``TerminalNotReadyError``, ``IdempotencyConflictError``,
        ``TransportError`` or another ``FxSocketError`` from the server.
        """
        kind = check_order(symbol, type, volume, price, sl, tp)
        request = CreateOrderRequest(
            symbol=symbol, type=kind, volume=volume, price=price, sl=sl, tp=tp, comment=comment
        )
        reply: OrderReply = await self._call(
            "POST",
            orders_path(self.account_id),
            OrderReply,
            body=request,
            idempotency_key=idempotency_key or f"fxsa-{uuid.uuid4()}",
        )
        return reply

    async def modify(
        self,
        order_id: str,
        *,
        sl: float | Remove | None = None,
        tp: float | Remove | None = None,
        price: float | None = None,
    ) -> ModifyOrderReply:
        """Change an order's SL, TP or pending price; ``None`` keeps a value.

        Remove a stop with ``sl=REMOVE`` / ``tp=REMOVE``; ``0`` is refused so
        that a stop is never removed by accident.

        Raises ``ValidationError`` (before sending, or from the server),
        ``NotFoundError``, or another ``FxSocketError``.
        """
        new_sl, new_tp, new_price = check_modify(sl, tp, price)
        request = ModifyOrderRequest(sl=new_sl, tp=new_tp, price=new_price)
        reply: ModifyOrderReply = await self._call(
            "PATCH", order_path(self.account_id, order_id), ModifyOrderReply, body=request
        )
        return reply

    async def close(self, order_id: str) -> CloseOrderReply:
        """Close a position at the market, or cancel a pending order.

        A retried close whose earlier attempt may have gone through is judged
        by its reply: when the retry finds the order gone, the history tells
        whether this call closed it, and that result is returned.

        Raises ``NotFoundError`` when no such order is open or pending, or
        another ``FxSocketError``.
        """
        attempts: list[FxSocketError] = []
        try:
            reply: CloseOrderReply = await self._call(
                "DELETE", order_path(self.account_id, order_id), CloseOrderReply, attempts=attempts
            )
        except NotFoundError:
            if not attempts:
                raise
            closed = await self._closed_in_history(order_id)
            if closed is None:
                raise
            return closed
        return reply

    async def _closed_in_history(self, order_id: str) -> CloseOrderReply | None:
        since = datetime.now(UTC) - timedelta(days=1)
        async for trade in HistoryIterator(self, start=since, end=None, page_size=1000):
            if trade.id == order_id:
                return CloseOrderReply(
                    id=trade.id,
                    status=trade.status,
                    close_price=trade.close_price,
                    profit=trade.profit,
                )
        return None

    async def pending(self) -> list[OrderReply]:
        """Pending orders that have not triggered yet.

        Raises ``FxSocketError`` subclasses (``NotFoundError`` when the
        server has no such route).
        """
        orders: list[OrderReply] = await self._call(
            "GET", orders_path(self.account_id), list[OrderReply]
        )
        return orders


class AccountClient(_Resource):
    """Everything about one account: ``fx.account(id)`` (or ``fx.account()``).

    ``fx.account()`` uses the reference's bare routes, which act on the key's
    only linked account.
    """

    def __init__(self, transport: HttpTransport, tasks: TaskGroup, account_id: str | None) -> None:
        super().__init__(transport, tasks, account_id)
        self.orders = Orders(transport, tasks, account_id)

    def __repr__(self) -> str:
        return f"AccountClient(account_id={self.account_id!r})"

    async def summary(self) -> AccountSummary:
        """Balance, equity, margin, free margin and currency.

        Raises ``TerminalNotReadyError`` while the account is not connected,
        ``NotFoundError``, ``AccountRequiredError`` (bare form, several
        accounts), or another ``FxSocketError``.
        """
        summary: AccountSummary = await self._call(
            "GET", summary_path(self.account_id), AccountSummary
        )
        return summary

    async def positions(self) -> list[Position]:
        """Open positions. Raises ``FxSocketError`` subclasses as ``summary()`` does."""
        positions: list[Position] = await self._call(
            "GET", positions_path(self.account_id), list[Position]
        )
        return positions

    async def quote(self, symbol: str) -> Quote:
        """The current bid/ask of ``symbol``.

        Raises ``ValidationError``/``NotFoundError`` for an unknown symbol, or
        another ``FxSocketError``.
        """
        check_symbol(symbol)
        quote: Quote = await self._call("GET", quote_path(self.account_id, symbol), Quote)
        return quote

    async def candles(
        self,
        symbol: str,
        timeframe: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        """OHLCV bars, oldest first.

        With ``start`` (and ``end``, default now), every bar in the range:
        a range longer than one reply's limit is split into chunks fetched
        concurrently and joined in order without gaps or duplicates. Without
        ``start``, the last ``limit`` bars (at most 1000) up to ``end``.

        Raises ``ValidationError`` (before sending) for an unknown timeframe
        or ``start > end``, or another ``FxSocketError``.
        """
        check_symbol(symbol)
        timeframe = check_timeframe(timeframe)
        check_range(start, end)
        if start is None:
            size = CANDLES_MAX_LIMIT if limit is None else limit
            check_page_size(size, CANDLES_MAX_LIMIT)
            return await self._candle_page(symbol, timeframe, None, end, size)
        if limit is not None:
            check_page_size(limit, 10**9)
        # Chunks are computed on the wire's reading of the times (naive broker
        # time); with no end, the last chunk is left open so the server's "now",
        # which may be ahead of ours, decides where it stops.
        first = as_wire_time(start)
        last = as_wire_time(end) if end is not None else as_wire_time(datetime.now(UTC))
        chunks: list[tuple[datetime, datetime | None]] = list(_split(first, last, timeframe))
        if end is None:
            chunks[-1:] = [(chunks[-1][0] if chunks else first, None)]
        results: list[list[Candle]] = [[] for _ in chunks]
        gate = anyio.Semaphore(CANDLE_CONCURRENCY)

        async def fetch(index: int, chunk_start: datetime, chunk_end: datetime | None) -> None:
            async with gate:
                results[index] = await self._candle_range(symbol, timeframe, chunk_start, chunk_end)

        async with anyio.create_task_group() as tasks:
            for index, (chunk_start, chunk_end) in enumerate(chunks):
                tasks.start_soon(fetch, index, chunk_start, chunk_end)
        candles = _join(results)
        return candles[:limit] if limit is not None else candles

    async def _candle_range(
        self, symbol: str, timeframe: str, start: datetime, end: datetime | None
    ) -> list[Candle]:
        # Page within the chunk too, in case the server's limit is lower than ours.
        bars: list[Candle] = []
        cursor = start
        for _ in range(CANDLES_MAX_LIMIT + 1):
            page = await self._candle_page(symbol, timeframe, cursor, end, CANDLES_MAX_LIMIT)
            bars.extend(page)
            if len(page) < CANDLES_MAX_LIMIT:
                break
            cursor = as_wire_time(page[-1].time) + _ONE_MS
            if end is not None and cursor > end:
                break
        return bars

    async def _candle_page(
        self, symbol: str, timeframe: str, start: datetime | None, end: datetime | None, size: int
    ) -> list[Candle]:
        reply: CandlesReply = await self._call(
            "GET",
            candles_path(self.account_id, symbol),
            CandlesReply,
            params=candles_query(timeframe, start, end, size),
        )
        return reply.candles

    async def newest_trades(self, count: int = 50) -> list[Trade]:
        """The ``count`` most recently closed trades, oldest first (two requests at most).

        Raises ``FxSocketError`` subclasses as ``summary()`` does.
        """
        first = await self._history_page(0, 1)
        if first.total <= 1:
            return first.trades
        last = await self._history_page(max(0, first.total - count), count)
        return last.trades

    def history(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        symbol: str | None = None,
        type: str | None = None,
        page_size: int = HISTORY_DEFAULT_LIMIT,
        progress: ProgressCallback | None = None,
    ) -> HistoryIterator:
        """Closed trades (and cancelled orders) as an async iterator, oldest first.

        Pages with offset/limit, fetching the next page while you consume the
        current one; ``progress(done, total)`` is called after each page.
        Iterating raises ``ValidationError`` for bad arguments, or another
        ``FxSocketError`` from the server.
        """
        check_range(start, end)
        check_page_size(page_size)
        return HistoryIterator(
            self,
            start=start,
            end=end,
            symbol=symbol,
            order_type=type,
            page_size=page_size,
            progress=progress,
        )


class HistoryIterator:
    """Async iterator over history pages; the next page loads while one is consumed."""

    def __init__(
        self,
        resource: _Resource,
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


def _split(start: datetime, end: datetime, timeframe: str) -> list[tuple[datetime, datetime]]:
    span = timedelta(seconds=TIMEFRAME_SECONDS[timeframe] * CANDLES_MAX_LIMIT)
    if timeframe == "MN":
        span = timedelta(days=28 * CANDLES_MAX_LIMIT)  # months are at least 28 days
    chunks = []
    cursor = start
    while cursor <= end:
        chunk_end = min(cursor + span - _ONE_MS, end)
        chunks.append((cursor, chunk_end))
        cursor = chunk_end + _ONE_MS
    return chunks


def _join(chunks: list[list[Candle]]) -> list[Candle]:
    joined: list[Candle] = []
    for chunk in chunks:
        for bar in chunk:
            if not joined or bar.time > joined[-1].time:
                joined.append(bar)
    return joined
