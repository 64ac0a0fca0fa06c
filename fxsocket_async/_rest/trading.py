"""Per-account REST resources: ``fx.account(id)`` and its ``orders``."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import anyio
import msgspec

from .._core.market import CloseAllSummary
from .._core.models import (
    CANDLES_MAX_LIMIT,
    HISTORY_DEFAULT_LIMIT,
    TIMEFRAME_SECONDS,
    AccountSummary,
    Candle,
    CloseOrderReply,
    CreateOrderRequest,
    HistoryPage,
    ModifyOrderReply,
    ModifyOrderRequest,
    OrderReply,
    Position,
    Quote,
    Trade,
)
from .._core.validation import (
    Remove,
    as_wire_time,
    check_history_query,
    check_idempotency_key,
    check_modify,
    check_offset,
    check_order,
    check_page_size,
    check_positive,
    check_range,
    check_symbol,
    check_timeframe,
    check_volume_spec,
)
from .._exceptions import (
    FxSocketError,
    NotFoundError,
    ProtocolError,
    ServerError,
    TerminalNotReadyError,
    TransportError,
    UnsupportedError,
    ValidationError,
)
from .history import HistoryIterator, ProgressCallback
from .market import MarketResource
from .resource import AccountContext, Resource
from .submissions import find_submission, submission_marker

__all__ = ["AccountClient", "Orders"]

# Candle chunks fetched at once when a long range is split.
CANDLE_CONCURRENCY = 4
_ONE_MS = timedelta(milliseconds=1)


class Orders(Resource):
    """Orders of one account: ``fx.account(id).orders``."""

    def __init__(self, context: AccountContext, market: MarketResource) -> None:
        super().__init__(context)
        self._market = market

    async def _check_volume(self, symbol: str, volume: float) -> None:
        # Where the dialect knows the symbol's volume limits, they are checked first.
        try:
            info = await self._market.symbol_info(symbol)
        except UnsupportedError:
            return  # the reference routes check volumes on the server
        except NotFoundError:
            raise ValidationError(
                f"{symbol!r} is not a symbol of account {self.account_id}: "
                "fx.account(id).symbols() lists them",
                code="invalid_symbol",
            ) from None
        check_volume_spec(symbol, volume, info.volume_min, info.volume_max, info.volume_step)

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
        twice. The terminal dialect's route takes no key, so there a
        submission is re-sent only after a refusal that proves it was not
        carried out (429); after an ambiguous failure (a 5xx, a lost
        connection, a timeout) an order placed without a ``comment`` is looked
        for by the marker it carries as its comment (``fxsa-`` and 16 hex
        digits of the key's hash): found, it is returned; not found, the
        failure is raised and nothing is sent again (see docs/protocol.md).

        Raises ``ValidationError`` (before sending) for bad input, and
        ``BrokerRejectedError``, ``PermissionDeniedError``,
        ``TerminalNotReadyError``, ``IdempotencyConflictError``,
        ``TransportError`` or another ``FxSocketError`` from the server.
        """
        kind = check_order(symbol, type, volume, price, sl, tp)
        check_idempotency_key(idempotency_key)
        await self._check_volume(symbol, volume)
        request = CreateOrderRequest(
            symbol=symbol, type=kind, volume=volume, price=price, sl=sl, tp=tp, comment=comment
        )
        key = idempotency_key or f"fxsa-{uuid.uuid4()}"
        _, marker = await submission_marker(self, request, key)
        lost: FxSocketError
        try:
            return await self._run(lambda d: d.create_order(request, key))
        except (ServerError, TransportError, ProtocolError) as exc:
            if marker is None or isinstance(exc, TerminalNotReadyError):
                raise  # re-sent safely already, or refused before it was carried out
            lost = exc
        # The reply was lost and the route takes no key, so it is never re-sent:
        # the order is looked for by the marker it carries.
        try:
            found = await find_submission(self, marker)
        except FxSocketError:
            found = None  # what is raised is the submission's own failure
        if found is None:
            raise lost
        return found

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
        reply = await self._run(lambda d: d.modify_order(order_id, request))
        if (await self._context.dialect()).modify_reply_complete:
            return reply
        # The terminal's reply says only whether it applied: the order says what is in force.
        positions, pending = await self.open_orders()
        for position in positions:
            if position.id == order_id:
                return msgspec.structs.replace(reply, sl=position.sl, tp=position.tp)
        for order in pending:
            if order.id == order_id:
                return msgspec.structs.replace(reply, sl=order.sl, tp=order.tp, price=order.price)
        return reply

    async def close(self, order_id: str, *, volume: float | None = None) -> CloseOrderReply:
        """Close a position at the market, or cancel a pending order; with ``volume``,
        close that many lots of a position and keep the rest open (the terminal
        dialect; a partial close is never re-sent after an ambiguous failure,
        since a second one would close more).

        A close may be sent twice without this library knowing (aiohttp
        itself re-sends a request whose keep-alive connection broke), so a
        "not found" is judged from the history: when the order was closed or
        cancelled in the last day, that close is returned. So a close never
        reports a failure for an order that is closed, whoever closed it. (The
        terminal's history lists no cancelled orders: there the open orders are
        read first, so that a pending order deleted by an attempt whose reply
        was lost is reported ``cancelled``.)

        Raises ``NotFoundError`` when the order is neither open, pending, nor
        in the last day's history, ``ValidationError`` (before sending),
        ``UnsupportedError`` for ``volume`` on the reference routes, or
        another ``FxSocketError``.
        """
        if volume is not None:
            volume = check_positive("volume", volume)
        dialect = await self._context.dialect()
        was_pending = False
        if not dialect.close_reply_complete:
            # The terminal's reply tells neither a close from a cancel nor the profit,
            # and its history lists no cancels: what the order is, is read first.
            _, pending = await self.open_orders()
            was_pending = any(order.id == order_id for order in pending)
        retried: list[FxSocketError] = []
        try:
            reply = await self._run(lambda d: d.close_order(order_id, volume), retried)
        except NotFoundError:
            if volume is not None:
                raise  # a part of an order that is gone cannot have been closed by us
            closed = await self._closed_in_history(order_id)
            if closed is not None:
                return closed
            if retried and was_pending:
                # Deleted by the attempt whose reply was lost.
                return CloseOrderReply(id=order_id, status="cancelled")
            raise
        if dialect.close_reply_complete:
            return reply
        if was_pending:
            return CloseOrderReply(id=order_id, status="cancelled")
        closed = await self._closed_in_history(order_id)
        return reply if closed is None else closed

    async def close_all(
        self, *, symbol: str | None = None, magic: int | None = None, pending: bool = False
    ) -> CloseAllSummary:
        """Close every open position (of ``symbol``, or with ``magic``, when given) at the
        market; with ``pending=True`` delete pending orders too. The reply lists each
        ticket's outcome; a failed one does not stop the others.

        Asking again is safe: a second pass finds only what is still open.
        Raises ``ValidationError`` (before sending), ``UnsupportedError`` on the
        reference routes, or an ``FxSocketError``.
        """
        if symbol is not None:
            check_symbol(symbol)
        if magic is not None and (isinstance(magic, bool) or not isinstance(magic, int)):
            raise ValidationError(
                f"magic must be an integer (the EA's magic number), not {magic!r}",
                code="invalid_magic",
            )
        return await self._run(lambda d: d.close_all(symbol, magic, pending))

    async def _closed_in_history(self, order_id: str) -> CloseOrderReply | None:
        """The newest close of ``order_id`` in the last day (a partly closed position
        has one per part), or ``None``."""
        since = self._context.clock.wall() - timedelta(days=1)
        found = None
        async for trade in HistoryIterator(self, start=since, end=None, page_size=1000):
            if trade.id == order_id:
                found = trade
        if found is None:
            return None
        return CloseOrderReply(
            id=found.id, status=found.status, close_price=found.close_price, profit=found.profit
        )

    async def pending(self) -> list[OrderReply]:
        """Pending orders that have not triggered yet.

        Raises ``FxSocketError`` subclasses (``NotFoundError`` when the
        server has no such route).
        """
        return await self._run(lambda d: d.pending_orders())


class AccountClient(MarketResource):
    """Everything about one account: ``fx.account(id)`` (or ``fx.account()``).

    ``fx.account()`` uses the reference's bare routes, which act on the key's
    only linked account.
    """

    def __init__(self, context: AccountContext) -> None:
        super().__init__(context)
        self.orders = Orders(context, self)

    def __repr__(self) -> str:
        return f"AccountClient(account_id={self.account_id!r})"

    async def dialect(self) -> str:
        """Which dialect serves this account: ``"terminal"`` (its own terminal's routes
        and socket) or ``"reference"``. Decided on first use, from the account's record.

        Raises ``NotFoundError`` for an unknown account, ``TerminalNotReadyError``
        when the terminal dialect is forced and the account has none yet, or
        another ``FxSocketError`` from reading the record.
        """
        return (await self._context.dialect()).name

    async def summary(self) -> AccountSummary:
        """Balance, equity, margin, free margin and currency.

        Raises ``TerminalNotReadyError`` while the account is not connected,
        ``NotFoundError``, ``AccountRequiredError`` (bare form, several
        accounts), or another ``FxSocketError``.
        """
        return await self._run(lambda d: d.summary())

    async def positions(self) -> list[Position]:
        """Open positions. Raises ``FxSocketError`` subclasses as ``summary()`` does."""
        return await self._run(lambda d: d.positions())

    async def quote(self, symbol: str) -> Quote:
        """The current bid/ask of ``symbol``.

        Raises ``ValidationError``/``NotFoundError`` for an unknown symbol, or
        another ``FxSocketError``.
        """
        check_symbol(symbol)
        return await self._run(lambda d: d.quote(symbol))

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
        last = as_wire_time(end if end is not None else self._context.clock.wall())
        chunks: list[tuple[datetime, datetime | None]] = list(_split(first, last, timeframe))
        if end is None:
            chunks[-1:] = [(chunks[-1][0] if chunks else first, None)]
        results: list[list[Candle]] = [[] for _ in chunks]
        gate = anyio.Semaphore(CANDLE_CONCURRENCY)

        async def fetch(index: int, chunk_start: datetime, chunk_end: datetime | None) -> None:
            async with gate:
                results[index] = await self._candle_range(symbol, timeframe, chunk_start, chunk_end)

        failure: FxSocketError | None = None
        try:
            async with anyio.create_task_group() as tasks:
                for index, (chunk_start, chunk_end) in enumerate(chunks):
                    tasks.start_soon(fetch, index, chunk_start, chunk_end)
        except BaseExceptionGroup as group:
            failure = _first_ours(group)
            if failure is None:
                raise
        if failure is not None:
            # One chunk failed: raise what a user's `except` expects, not a group.
            raise failure
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
        now = self._context.clock.wall()
        return await self._run(lambda d: d.candles(symbol, timeframe, start, end, size, now))

    async def newest_trades(self, count: int = 50) -> list[Trade]:
        """The ``count`` most recently closed trades, oldest first (two requests at most).

        Raises ``FxSocketError`` subclasses as ``summary()`` does.
        """
        first = await self._history_page(0, 1)
        if first.total <= 1:
            return first.trades
        last = await self._history_page(max(0, first.total - count), count)
        return last.trades

    async def history_page(
        self, offset: int = 0, limit: int = HISTORY_DEFAULT_LIMIT, *,
        start: datetime | None = None, end: datetime | None = None,
        symbol: str | None = None, type: str | None = None,
    ) -> HistoryPage:  # fmt: skip
        """One page of closed trades, oldest first (``total`` says how many match);
        ``history()`` pages through them all.

        Raises ``ValidationError`` (before sending) for bad arguments, or another
        ``FxSocketError`` from the server.
        """
        order_type = check_history_query(start, end, limit, type)
        check_offset(offset)
        return await self._history_page(offset, limit, start, end, symbol, order_type)

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
        order_type = check_history_query(start, end, page_size, type)
        return HistoryIterator(
            self,
            start=start,
            end=end,
            symbol=symbol,
            order_type=order_type,
            page_size=page_size,
            progress=progress,
        )


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


def _first_ours(group: BaseExceptionGroup[BaseException]) -> FxSocketError | None:
    """The first of our errors in a (nested) exception group, if there is one."""
    for error in group.exceptions:
        if isinstance(error, FxSocketError):
            return error
        if isinstance(error, BaseExceptionGroup):
            found = _first_ours(error)
            if found is not None:
                return found
    return None
