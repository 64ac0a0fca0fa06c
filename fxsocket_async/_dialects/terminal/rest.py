"""The terminal dialect's REST calls: one account's own routes at its ``rest_url``.

From the vendor SDK (``terminal/client.py``, ``_http.py``, ``errors.py``):
MT-style routes (``/AccountSummary``, ``/OpenedOrders``, ``/OrderSend``...)
with camelCase bodies, the key in ``X-API-Key``, error bodies ``{"error",
"detail"}`` (or ``"message"``), and an order's refusal as an ``OrderResult``
with ``success: false`` and a ``retcode``. MT4 and MT5 alike.

Decisions of this library (docs/protocol.md): an order submission is never
re-sent after an ambiguous failure, because this route takes no idempotency
key; the history's paging is ours (the routes take a time range); a
``/OrderClose`` of a pending ticket deletes it (``cancelled``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import msgspec

from ..._core.codec import decode_reply, encode, format_time, parse_retry_after, preview
from ..._core.dialect import HttpReply, HttpRequest, RestCall
from ..._core.market import (
    CloseAllSummary,
    ClosedPosition,
    Deal,
    HealthChecks,
    MarginCalc,
    ProfitCalc,
    ServerTimezone,
    SymbolInfo,
)
from ..._core.models import (
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
)
from ..._exceptions import (
    APIError,
    BadRequestError,
    BrokerRejectedError,
    NotFoundError,
    TerminalNotReadyError,
    TerminalTimeoutError,
    error_from_response,
)
from .convert import snapshot_of, summary_of, ticket, trades_of
from .wire import (
    OPERATIONS,
    TIMEFRAMES,
    TAccountSummary,
    TCandle,
    TErrorBody,
    TOpenedOrder,
    TOrderResult,
)

__all__ = ["TerminalRest", "decode_terminal_error"]

T = TypeVar("T")

_JSON: Final = {"Accept": "application/json", "Content-Type": "application/json"}
#: The comment of an order placed without one: ``fxsa-`` and 16 hex digits of its
#: idempotency key's SHA-256 (21 characters; MetaTrader keeps 31).
MARKER_PREFIX: Final = "fxsa-"
MARKER_DIGITS: Final = 16
#: MetaTrader's "no changes" return code: the requested SL/TP/price are in effect.
NO_CHANGE: Final = 10025


def decode_terminal_error(
    status: int, body: bytes, *, retry_after: str | None = None, now: datetime | None = None
) -> APIError:
    """An error reply of a terminal as one of our exceptions (503 is ``TerminalNotReadyError``)."""
    try:
        parsed = msgspec.json.decode(body, type=TErrorBody)
        code = parsed.error or f"http_{status}"
        message = parsed.detail or parsed.message or parsed.error
    except (msgspec.DecodeError, RecursionError):
        code, message = f"http_{status}", preview(body).strip()
    message = message or f"HTTP {status} with no error body"
    if status == 503:
        return TerminalNotReadyError(message, status=503, code=code)
    if status == 504:
        return TerminalTimeoutError(message, status=504, code=code)
    return error_from_response(
        status, code, message, retry_after=parse_retry_after(retry_after, now=now)
    )


def _reader(reply_type: Any, convert: Callable[[Any], T] | None = None) -> Callable[[HttpReply], T]:
    def read(reply: HttpReply) -> T:
        if reply.status >= 400:
            raise decode_terminal_error(
                reply.status,
                reply.body,
                retry_after=reply.headers.get("Retry-After"),
                now=reply.received_at,
            )
        value = decode_reply(reply.body, reply_type, status=reply.status)
        return convert(value) if convert is not None else value

    return read


_READ_RESULT: Final[Callable[[HttpReply], TOrderResult]] = _reader(TOrderResult)


#: MetaTrader 5 trade return codes and what they are in the reference dialect's
#: terms, so that both dialects raise the same exception with the same code.
_RETCODES: Final[dict[int, tuple[type[APIError], str]]] = {
    10004: (BrokerRejectedError, "requote"),
    10006: (BrokerRejectedError, "broker_rejected"),
    10013: (BadRequestError, "invalid_request"),
    10014: (BadRequestError, "invalid_volume"),
    10015: (BadRequestError, "invalid_price"),
    10016: (BadRequestError, "invalid_stops"),
    10017: (BrokerRejectedError, "trade_disabled"),
    10018: (BrokerRejectedError, "market_closed"),
    10019: (BrokerRejectedError, "not_enough_money"),
    10020: (BrokerRejectedError, "price_changed"),
    10021: (BrokerRejectedError, "off_quotes"),
    10022: (BadRequestError, "invalid_expiration"),
    10024: (BrokerRejectedError, "too_many_requests"),
    10026: (BrokerRejectedError, "autotrading_disabled"),
    10027: (BrokerRejectedError, "autotrading_disabled"),
    10030: (BadRequestError, "invalid_fill"),
    10031: (TerminalNotReadyError, "no_connection"),
    10038: (BadRequestError, "invalid_volume"),
}


def _refused(result: TOrderResult, *, by_ticket: bool = False) -> APIError:
    """A ``success: false`` result as our exception. On a route that names a ticket,
    10013 ("invalid request") is how a terminal says there is no such order."""
    text = (
        f"the terminal refused it: {result.retcode_description or 'rejected'} "
        f"(retcode {result.retcode}){': ' + result.comment if result.comment else ''}"
    )
    if by_ticket and result.retcode == 10013:
        return NotFoundError(text, status=200, code="order_not_found")
    kind, code = _RETCODES.get(result.retcode, (BrokerRejectedError, f"retcode_{result.retcode}"))
    return kind(text, status=200, code=code)


class TerminalRest:
    """One account's operations in the terminal dialect, at its ``rest_url``."""

    name = "terminal"
    modify_reply_complete = False
    close_reply_complete = False

    def __init__(self, rest_url: str, api_key: str, account_id: str) -> None:
        self._base_url = rest_url.rstrip("/")
        self._headers = {**_JSON, "X-API-Key": api_key}
        self.account_id = account_id

    def __repr__(self) -> str:
        return f"TerminalRest(rest_url={self._base_url!r}, account_id={self.account_id!r})"

    def _call(
        self,
        method: str,
        path: str,
        read: Callable[[HttpReply], T],
        *,
        idempotent: bool = True,
        query: dict[str, str] | None = None,
        body: object = None,
    ) -> RestCall[T]:
        request = HttpRequest(
            method,
            self._base_url + path,
            headers=self._headers,
            query=query,
            body=None if body is None else encode(body),
        )
        return RestCall(request, read, idempotent)

    # --------------------------------------------------------------- the seam

    def summary(self) -> RestCall[AccountSummary]:
        account_id = self.account_id
        return self._call(
            "GET", "/AccountSummary", _reader(TAccountSummary, lambda s: summary_of(s, account_id))
        )

    def positions(self) -> RestCall[list[Position]]:
        return self._call(
            "GET", "/OpenedOrders", _reader(list[TOpenedOrder], lambda rows: snapshot_of(rows)[0])
        )

    def pending_orders(self) -> RestCall[list[OrderReply]]:
        return self._call(
            "GET", "/OpenedOrders", _reader(list[TOpenedOrder], lambda rows: snapshot_of(rows)[1])
        )

    def open_orders(self) -> RestCall[tuple[list[Position], list[OrderReply]]]:
        return self._call("GET", "/OpenedOrders", _reader(list[TOpenedOrder], snapshot_of))

    def submission_marker(self, order: CreateOrderRequest, idempotency_key: str) -> str | None:
        if order.comment is not None:
            return None
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
        return MARKER_PREFIX + digest[:MARKER_DIGITS]

    def create_order(self, order: CreateOrderRequest, idempotency_key: str) -> RestCall[OrderReply]:
        # No idempotency key on this route: never sent twice after an ambiguous
        # failure. The order carries a marker instead (when the caller gave no
        # comment), by which Orders.create finds it if the reply was lost.
        body: dict[str, Any] = {
            "symbol": order.symbol,
            "operation": OPERATIONS[order.type],
            "volume": order.volume,
        }
        comment = order.comment
        if comment is None:
            comment = self.submission_marker(order, idempotency_key)
        for name, value in (
            ("price", order.price),
            ("stopLoss", order.sl),
            ("takeProfit", order.tp),
            ("comment", comment),
        ):
            if value is not None:
                body[name] = value

        def read(reply: HttpReply) -> OrderReply:
            result: TOrderResult = _READ_RESULT(reply)
            if not result.success:
                raise _refused(result)
            market = order.type in ("BUY", "SELL")
            return OrderReply(
                id=str(result.order),
                symbol=order.symbol,
                type=order.type,
                volume=result.volume or order.volume,
                price=result.price or (order.price or 0.0),
                status="filled" if market else "pending",
                sl=order.sl,
                tp=order.tp,
                comment=comment or "",
            )

        return self._call("POST", "/OrderSend", read, idempotent=False, body=body)

    def modify_order(self, order_id: str, change: ModifyOrderRequest) -> RestCall[ModifyOrderReply]:
        # Absolute values: sending the same change twice leaves the same order.
        body: dict[str, Any] = {"ticket": ticket(order_id)}
        for name, value in (
            ("stopLoss", change.sl),
            ("takeProfit", change.tp),
            ("price", change.price),
        ):
            if value is not None:
                body[name] = value

        def read(reply: HttpReply) -> ModifyOrderReply:
            result: TOrderResult = _READ_RESULT(reply)
            unchanged = result.retcode == NO_CHANGE or result.outcome == "no_change"
            if not result.success and not unchanged:
                raise _refused(result, by_ticket=True)
            return ModifyOrderReply(
                id=order_id,
                sl=change.sl or None,
                tp=change.tp or None,
                price=change.price,
                updated=not unchanged,
            )

        return self._call("POST", "/OrderModify", read, body=body)

    def close_order(self, order_id: str, volume: float | None = None) -> RestCall[CloseOrderReply]:
        # Judged by its reply, as in the reference dialect: a retry that meets "not
        # found" is checked against the history.
        body: dict[str, Any] = {"ticket": ticket(order_id)}
        if volume is not None:
            body["volume"] = volume

        def read(reply: HttpReply) -> CloseOrderReply:
            result: TOrderResult = _READ_RESULT(reply)
            if not result.success:
                raise _refused(result, by_ticket=True)
            status = "closed" if result.deal or result.price else "cancelled"
            return CloseOrderReply(
                id=order_id, status=status, close_price=result.price or None, profit=0.0
            )

        # A partial close sent twice would close twice the volume: never re-sent.
        return self._call("POST", "/OrderClose", read, idempotent=volume is None, body=body)

    def quote(self, symbol: str) -> RestCall[Quote]:
        return self._call("GET", "/getQuote", _reader(Quote), query={"symbol": symbol})

    def candles(
        self,
        symbol: str,
        timeframe: str,
        start: datetime | None,
        end: datetime | None,
        limit: int | None,
        now: datetime,
    ) -> RestCall[list[Candle]]:
        query = {"symbol": symbol, "timeframe": TIMEFRAMES[timeframe]}
        # Without `from` the route answers the newest bars up to `to`; a `from`
        # reached back to cover `limit` bars would be answered from its start,
        # cut at the route's page size, and miss the newest bars.
        if start is not None:
            query["from"] = format_time(start)
        if end is not None:
            query["to"] = format_time(end)

        def convert(rows: list[TCandle]) -> list[Candle]:
            bars = [
                Candle(
                    time=r.time, open=r.open, high=r.high, low=r.low, close=r.close,
                    volume=r.tick_volume,
                )
                for r in rows
            ]  # fmt: skip
            bars.sort(key=lambda b: b.time)
            if limit is not None:
                return bars[-limit:] if start is None else bars[:limit]
            return bars

        return self._call("GET", "/PriceHistory", _reader(list[TCandle], convert), query=query)

    def history_page(
        self,
        offset: int,
        limit: int,
        start: datetime | None = None,
        end: datetime | None = None,
        symbol: str | None = None,
        order_type: str | None = None,
    ) -> RestCall[HistoryPage]:
        # The route answers a whole time range; pages are cut here, in close order.
        def convert(rows: list[ClosedPosition]) -> HistoryPage:
            trades = [
                t
                for t in trades_of(rows)
                if (symbol is None or t.symbol == symbol)
                and (order_type is None or t.type == order_type)
            ]
            return HistoryPage(trades=trades[offset : offset + limit], total=len(trades))

        return self._call(
            "GET",
            "/PositionHistory",
            _reader(list[ClosedPosition], convert),
            query=_range(start, end),
        )

    # -------------------------------------------------- what the terminal adds

    def symbols(self) -> RestCall[list[str]]:
        return self._call("GET", "/symbols", _reader(list[str]))

    def symbol_info(self, symbol: str) -> RestCall[SymbolInfo]:
        return self._call("GET", "/SymbolInfo", _reader(SymbolInfo), query={"symbol": symbol})

    def server_timezone(self) -> RestCall[ServerTimezone]:
        return self._call("GET", "/ServerTimezone", _reader(ServerTimezone))

    def close_all(
        self, symbol: str | None, magic: int | None, delete_pending: bool
    ) -> RestCall[CloseAllSummary]:
        body: dict[str, Any] = {}
        if symbol is not None:
            body["symbol"] = symbol
        if magic is not None:
            body["magic"] = magic
        if delete_pending:
            body["deletePending"] = True
        # Closing what is open is safe to ask again: a second pass finds less.
        return self._call("POST", "/CloseAll", _reader(CloseAllSummary), body=body)

    def calc_margin(
        self, symbol: str, order_type: str, volume: float, price: float
    ) -> RestCall[MarginCalc]:
        query = {
            "symbol": symbol,
            "operation": OPERATIONS[order_type],
            "volume": repr(volume),
            "price": repr(price),
        }
        return self._call("GET", "/OrderCalcMargin", _reader(MarginCalc), query=query)

    def calc_profit(
        self, symbol: str, order_type: str, volume: float, price_open: float, price_close: float
    ) -> RestCall[ProfitCalc]:
        query = {
            "symbol": symbol,
            "operation": OPERATIONS[order_type],
            "volume": repr(volume),
            "priceOpen": repr(price_open),
            "priceClose": repr(price_close),
        }
        return self._call("GET", "/OrderCalcProfit", _reader(ProfitCalc), query=query)

    def order_history(self, start: datetime | None, end: datetime | None) -> RestCall[list[Deal]]:
        return self._call("GET", "/OrderHistory", _reader(list[Deal]), query=_range(start, end))

    def position_history(
        self, start: datetime | None, end: datetime | None
    ) -> RestCall[list[ClosedPosition]]:
        return self._call(
            "GET", "/PositionHistory", _reader(list[ClosedPosition]), query=_range(start, end)
        )

    def status(self) -> RestCall[dict[str, Any]]:
        return self._call("GET", "/status", _reader(dict[str, Any]))

    def probe(self, path: str) -> RestCall[HealthChecks]:
        """``/healthz`` or ``/livez``: a 503 carries the body too (not ready is an answer)."""

        def read(reply: HttpReply) -> HealthChecks:
            if reply.status == 503:
                return decode_reply(reply.body, HealthChecks, status=503)
            return _reader(HealthChecks)(reply)

        return self._call("GET", path, read)


def _range(start: datetime | None, end: datetime | None) -> dict[str, str] | None:
    query = {}
    if start is not None:
        query["from"] = format_time(start)
    if end is not None:
        query["to"] = format_time(end)
    return query or None
