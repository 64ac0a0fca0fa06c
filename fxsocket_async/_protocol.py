"""The FxSocket wire protocol, with no I/O.

Everything that is a wire detail lives here and only here: the shapes of REST
bodies and replies, the WebSocket messages and events, the routes and the
headers, and how an error reply becomes one of our exceptions. The transport
and the simulator both build on this module, so when the real service turns
out to differ from the contract, this is the one module that changes.

No aiohttp and no anyio: this module turns bytes into Structs and Structs
into bytes, and is tested with literal frames.

Compatibility rule: a field the contract does not promise has a default, so a
reply from an older or newer server still decodes; values a newer server may
extend (statuses, order types in replies) are plain ``str``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal, TypeAlias, TypeVar, get_args, get_origin
from urllib.parse import quote as _quote

import msgspec

from ._exceptions import APIError, ProtocolError, ValidationError, error_from_response

__all__ = [
    "ACCOUNT_STATUSES",
    "CANDLES_DEFAULT_LIMIT",
    "CANDLES_MAX_LIMIT",
    "CHANNELS",
    "DEFAULT_BASE_URL",
    "DEFAULT_WS_URL",
    "EVENT_DECODER",
    "EVENT_TYPES",
    "HISTORY_DEFAULT_LIMIT",
    "HISTORY_MAX_LIMIT",
    "IDEMPOTENCY_KEY_HEADER",
    "IDEMPOTENCY_KEY_MAX_LENGTH",
    "IDEMPOTENCY_REPLAYED_HEADER",
    "MARKET_ORDER_TYPES",
    "ORDER_TYPES",
    "PENDING_ORDER_TYPES",
    "TIMEFRAMES",
    "TIMEFRAME_SECONDS",
    "Account",
    "AccountEvent",
    "AccountStatusChanged",
    "AccountStatusData",
    "AccountSummary",
    "AccountUpdate",
    "AccountUpdateData",
    "Candle",
    "CandlesReply",
    "Channel",
    "ClientMessage",
    "CloseOrderReply",
    "CreateOrderRequest",
    "ErrorBody",
    "ErrorEvent",
    "HistoryPage",
    "LinkAccountRequest",
    "ModifyOrderReply",
    "ModifyOrderRequest",
    "OrderCancelled",
    "OrderCancelledData",
    "OrderClosed",
    "OrderClosedData",
    "OrderFilled",
    "OrderFilledData",
    "OrderModified",
    "OrderModifiedData",
    "OrderOpened",
    "OrderOpenedData",
    "OrderReply",
    "OrderType",
    "Ping",
    "Pong",
    "Position",
    "Quote",
    "QuoteEvent",
    "ServerEvent",
    "StreamEvent",
    "Subscribe",
    "Subscribed",
    "Timeframe",
    "Trade",
    "UnknownEvent",
    "Unsubscribe",
    "Unsubscribed",
    "account_headers",
    "account_path",
    "accounts_path",
    "candles_path",
    "candles_query",
    "decode_client_message",
    "decode_error",
    "decode_event",
    "decode_reply",
    "encode",
    "format_time",
    "history_path",
    "history_query",
    "management_headers",
    "order_path",
    "orders_path",
    "parse_retry_after",
    "positions_path",
    "quote_path",
    "stream_headers",
    "summary_path",
]

DEFAULT_BASE_URL: Final = "https://api.fxsocket.com"
DEFAULT_WS_URL: Final = "wss://ws.fxsocket.com/v1/stream"
IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH: Final = 128
# Our simulator marks a replayed reply with this header (an assumption: docs/protocol.md).
IDEMPOTENCY_REPLAYED_HEADER: Final = "Idempotent-Replayed"
HISTORY_DEFAULT_LIMIT: Final = 100
HISTORY_MAX_LIMIT: Final = 1000
# The contract names no candle limit; this is our assumption (docs/protocol.md).
CANDLES_DEFAULT_LIMIT: Final = 500
CANDLES_MAX_LIMIT: Final = 1000

OrderType: TypeAlias = Literal["BUY", "SELL", "BUY_LIMIT", "SELL_LIMIT", "BUY_STOP", "SELL_STOP"]
Timeframe: TypeAlias = Literal["M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1", "MN"]
Channel: TypeAlias = Literal["quotes", "orders", "account"]
AccountStatus: TypeAlias = Literal["connecting", "connected", "error", "disconnected"]

ORDER_TYPES: Final[tuple[str, ...]] = get_args(OrderType)
MARKET_ORDER_TYPES: Final = frozenset({"BUY", "SELL"})
PENDING_ORDER_TYPES: Final = frozenset(ORDER_TYPES) - MARKET_ORDER_TYPES
TIMEFRAMES: Final[tuple[str, ...]] = get_args(Timeframe)
CHANNELS: Final[tuple[str, ...]] = get_args(Channel)
ACCOUNT_STATUSES: Final[tuple[str, ...]] = get_args(AccountStatus)
# MN is calendar months; its entry is a nominal 31 days, used only for range splitting.
TIMEFRAME_SECONDS: Final[Mapping[str, int]] = {
    "M1": 60,
    "M5": 300,
    "M15": 900,
    "M30": 1800,
    "H1": 3600,
    "H4": 14400,
    "D1": 86400,
    "W1": 604800,
    "MN": 2678400,
}


class _Model(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every REST body and reply: immutable, keyword-only."""


# --------------------------------------------------------------------------- REST


class Account(_Model, frozen=True, kw_only=True):
    """A linked MetaTrader account (``/v1/accounts``)."""

    id: str
    status: str
    nickname: str = ""
    platform: str = ""
    server: str = ""
    login: int = 0
    error: str = ""
    created_at: datetime | None = None
    broker: str | None = None


class LinkAccountRequest(_Model, omit_defaults=True, frozen=True, kw_only=True):
    """Body of ``POST /v1/accounts``. The password never appears in a repr."""

    server: str
    login: int
    password: str
    nickname: str | None = None

    def __repr__(self) -> str:
        return (
            f"LinkAccountRequest(server={self.server!r}, login={self.login!r}, "
            f"password='***', nickname={self.nickname!r})"
        )

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [
            ("server", self.server),
            ("login", self.login),
            ("password", "***"),
            ("nickname", self.nickname),
        ]


class AccountSummary(_Model, frozen=True, kw_only=True):
    """Balance and margin of one account (``GET .../account``)."""

    balance: float
    equity: float
    margin: float
    free_margin: float
    currency: str = ""
    id: str = ""


class Position(_Model, frozen=True, kw_only=True):
    """An open position (``GET .../positions``)."""

    id: str
    symbol: str
    type: str
    volume: float
    open_price: float
    sl: float | None = None
    tp: float | None = None
    profit: float = 0.0
    swap: float = 0.0
    comment: str = ""
    opened_at: datetime | None = None


class CreateOrderRequest(_Model, omit_defaults=True, frozen=True, kw_only=True):
    """Body of ``POST .../orders``."""

    symbol: str
    type: str
    volume: float
    price: float | None = None
    sl: float | None = None
    tp: float | None = None
    comment: str | None = None


class OrderReply(_Model, frozen=True, kw_only=True):
    """Reply of ``POST .../orders``; also a pending order in ``GET .../orders``."""

    id: str
    symbol: str
    type: str
    volume: float
    price: float
    status: str
    sl: float | None = None
    tp: float | None = None
    comment: str = ""


class ModifyOrderRequest(_Model, omit_defaults=True, frozen=True, kw_only=True):
    """Body of ``PATCH .../orders/{id}``: absent means unchanged, ``0`` removes an SL or TP."""

    sl: float | None = None
    tp: float | None = None
    price: float | None = None


class ModifyOrderReply(_Model, frozen=True, kw_only=True):
    """Reply of ``PATCH .../orders/{id}``."""

    id: str
    sl: float | None = None
    tp: float | None = None
    price: float | None = None
    updated: bool = True


class CloseOrderReply(_Model, frozen=True, kw_only=True):
    """Reply of ``DELETE .../orders/{id}``: ``closed`` (a position) or ``cancelled``."""

    id: str
    status: str
    close_price: float | None = None
    profit: float = 0.0


class Quote(msgspec.Struct, frozen=True, kw_only=True, gc=False, omit_defaults=True):
    """A bid/ask price. ``time`` is the broker's server time (see docs/protocol.md).

    The REST reply carries ``spread`` (in pips); stream quotes do not.
    """

    symbol: str
    bid: float
    ask: float
    time: datetime
    spread: float | None = None


class Candle(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One OHLCV bar; ``time`` is the bar's opening time in broker time."""

    time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int | float = 0


class CandlesReply(_Model, frozen=True, kw_only=True):
    """Reply of ``GET .../candles/{symbol}``, oldest first."""

    symbol: str
    timeframe: str
    candles: list[Candle]


class Trade(_Model, frozen=True, kw_only=True):
    """A closed trade in ``GET .../history``.

    ``status`` is ``closed`` for a closed position; the simulator also lists
    cancelled pending orders as ``cancelled`` (an assumption, docs/protocol.md).
    """

    id: str
    symbol: str
    type: str
    volume: float
    profit: float = 0.0
    open_price: float | None = None
    close_price: float | None = None
    commission: float = 0.0
    swap: float = 0.0
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    status: str = "closed"


class HistoryPage(_Model, frozen=True, kw_only=True):
    """Reply of ``GET .../history``: one page and the count of all matches."""

    trades: list[Trade]
    total: int


class ErrorBody(_Model, frozen=True, kw_only=True):
    """Every error reply's body."""

    error: str
    message: str = ""


# ---------------------------------------------------------------- WebSocket: client


class _ClientMessage(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="action", omit_defaults=True
):
    id: int


class Subscribe(_ClientMessage, tag="subscribe", frozen=True, kw_only=True):
    """Subscribe to a channel of one account (``symbols`` for ``quotes``)."""

    channel: str
    account_id: str
    symbols: list[str] | None = None


class Unsubscribe(_ClientMessage, tag="unsubscribe", frozen=True, kw_only=True):
    """Undo a subscription (same fields as ``Subscribe``)."""

    channel: str
    account_id: str
    symbols: list[str] | None = None


class Ping(_ClientMessage, tag="ping", frozen=True, kw_only=True):
    """Application-level ping; answered by ``Pong`` with the same id."""


ClientMessage: TypeAlias = Subscribe | Unsubscribe | Ping


# ---------------------------------------------------------------- WebSocket: server


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    """Base of every server frame: a tagged union on ``type``."""


class Subscribed(_Event, tag="subscribed", frozen=True, kw_only=True):
    """Acknowledges a ``Subscribe`` with the same ``id``."""

    id: int | None = None
    channel: str = ""
    account_id: str | None = None
    symbols: list[str] | None = None


class Unsubscribed(_Event, tag="unsubscribed", frozen=True, kw_only=True):
    """Acknowledges an ``Unsubscribe`` with the same ``id``."""

    id: int | None = None
    channel: str = ""
    account_id: str | None = None
    symbols: list[str] | None = None


class Pong(_Event, tag="pong", frozen=True, kw_only=True):
    """Answers a ``Ping``."""

    id: int | None = None


class ErrorEvent(_Event, tag="error", frozen=True, kw_only=True):
    """The server refused a request (``id`` set) or reports a stream-level error."""

    error: str
    message: str = ""
    id: int | None = None


class QuoteEvent(_Event, tag="quote", frozen=True, kw_only=True):
    """A price update for one subscribed symbol."""

    data: Quote
    account_id: str = ""


class _AccountEvent(_Event, frozen=True, kw_only=True, omit_defaults=True):
    """An event in an account's numbered sequence: ``seq`` grows by one per event.

    The contract adds ``account_id`` and ``seq``; the reference's own examples
    lack them, so a frame without them still decodes (``seq`` is then ``None``).
    ``recovered`` is never on the wire: the client sets it on events it rebuilt
    from REST after a gap (their ``seq`` is ``None``).
    """

    account_id: str = ""
    seq: int | None = None
    recovered: bool = False


class OrderOpenedData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    id: str
    symbol: str
    type: str
    volume: float
    price: float
    sl: float | None = None
    tp: float | None = None


class OrderModifiedData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    id: str
    sl: float | None = None
    tp: float | None = None
    price: float | None = None


class OrderFilledData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    id: str
    price: float


class OrderClosedData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    id: str
    close_price: float
    profit: float = 0.0


class OrderCancelledData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    id: str


class AccountUpdateData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    balance: float
    equity: float
    margin: float
    free_margin: float
    currency: str = ""


class AccountStatusData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    status: str
    error: str = ""


class OrderOpened(_AccountEvent, tag="order_opened", frozen=True, kw_only=True):
    """An order was placed: a market order filled, or a pending order rests."""

    data: OrderOpenedData


class OrderModified(_AccountEvent, tag="order_modified", frozen=True, kw_only=True):
    """An order's SL, TP or pending price changed."""

    data: OrderModifiedData


class OrderFilled(_AccountEvent, tag="order_filled", frozen=True, kw_only=True):
    """A pending order triggered and became a position."""

    data: OrderFilledData


class OrderClosed(_AccountEvent, tag="order_closed", frozen=True, kw_only=True):
    """A position closed (by request, SL or TP)."""

    data: OrderClosedData


class OrderCancelled(_AccountEvent, tag="order_cancelled", frozen=True, kw_only=True):
    """A pending order was cancelled."""

    data: OrderCancelledData


class AccountUpdate(_AccountEvent, tag="account", frozen=True, kw_only=True):
    """Balance, equity or margin changed."""

    data: AccountUpdateData


class AccountStatusChanged(_AccountEvent, tag="account_status", frozen=True, kw_only=True):
    """The account's status moved (``connecting`` → ``connected``, ``error``, ...)."""

    data: AccountStatusData


class UnknownEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A frame whose ``type`` this version does not know; newer servers add types."""

    type: str
    raw: dict[str, Any]


#: The events numbered by an account's ``seq``: its order lifecycle, balances and status.
AccountEvent: TypeAlias = (
    OrderOpened
    | OrderModified
    | OrderFilled
    | OrderClosed
    | OrderCancelled
    | AccountUpdate
    | AccountStatusChanged
)

ServerEvent: TypeAlias = (
    QuoteEvent
    | OrderOpened
    | OrderModified
    | OrderFilled
    | OrderClosed
    | OrderCancelled
    | AccountUpdate
    | AccountStatusChanged
    | Subscribed
    | Unsubscribed
    | Pong
    | ErrorEvent
)
StreamEvent: TypeAlias = ServerEvent | UnknownEvent

EVENT_TYPES: Final[frozenset[str]] = frozenset(
    cls.__struct_config__.tag for cls in get_args(ServerEvent)
)

# Built once: decoders carry their type's compiled plan. The stream's reader
# calls EVENT_DECODER.decode directly on its hot path and falls back to
# decode_event only when that raises.
EVENT_DECODER: Final = msgspec.json.Decoder(ServerEvent)
_EVENT_DECODER: Final = EVENT_DECODER
_ANY_DECODER: Final = msgspec.json.Decoder(dict[str, Any])
_CLIENT_DECODER: Final = msgspec.json.Decoder(ClientMessage)
_ENCODER: Final = msgspec.json.Encoder()
_REPLY_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}
_PREVIEW_BYTES: Final = 120

T = TypeVar("T")


def encode(message: object) -> bytes:
    """Encode a Struct (or a list of them): a request body, reply or stream message."""
    return _ENCODER.encode(message)


def _preview(data: bytes | str) -> str:
    text = data if isinstance(data, str) else data[:_PREVIEW_BYTES].decode("utf-8", "replace")
    return text[:_PREVIEW_BYTES] + ("..." if len(data) > _PREVIEW_BYTES else "")


def decode_event(frame: bytes | str) -> StreamEvent:
    """Decode one stream frame.

    Returns the event Struct, or ``UnknownEvent`` for a type this version does
    not know. Raises ``ProtocolError`` when the frame is not JSON, is not an
    object with a string ``type``, or is a known type missing required fields.
    """
    try:
        event: ServerEvent = _EVENT_DECODER.decode(frame)
    except msgspec.ValidationError as exc:
        return _unknown_or_raise(frame, exc)
    except msgspec.DecodeError as exc:
        raise ProtocolError(
            f"stream frame is not valid JSON ({exc}): {_preview(frame)!r}",
            code="malformed_frame",
        ) from None
    return event


def _unknown_or_raise(frame: bytes | str, exc: msgspec.ValidationError) -> UnknownEvent:
    try:
        raw = _ANY_DECODER.decode(frame)
    except msgspec.DecodeError:
        raise ProtocolError(
            f"stream frame is not a JSON object: {_preview(frame)!r}", code="malformed_frame"
        ) from None
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(
            f"stream frame has no string 'type' field: {_preview(frame)!r}",
            code="malformed_frame",
        )
    if kind in EVENT_TYPES:
        raise ProtocolError(
            f"{kind!r} frame does not match the contract ({exc}): {_preview(frame)!r}",
            code="malformed_frame",
        )
    return UnknownEvent(type=kind, raw=raw)


def decode_client_message(frame: bytes | str) -> ClientMessage:
    """Decode a client-to-server message (used by the simulator).

    Raises ``ProtocolError`` saying what is wrong with it.
    """
    try:
        message: ClientMessage = _CLIENT_DECODER.decode(frame)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"invalid client message: {exc}", code="invalid_message") from None
    return message


def decode_reply(body: bytes, reply_type: type[T] | Any, *, status: int | None = None) -> T:
    """Decode a successful REST reply into ``reply_type`` (a Struct, or ``list[...]``).

    Raises ``ProtocolError`` when the body does not match.
    """
    decoder = _REPLY_DECODERS.get(reply_type)
    if decoder is None:
        decoder = _REPLY_DECODERS[reply_type] = msgspec.json.Decoder(reply_type)
    try:
        result: T = decoder.decode(body)
    except msgspec.DecodeError as exc:
        name = _type_name(reply_type)
        raise ProtocolError(
            f"reply does not match {name}: {exc}; body starts {_preview(body)!r}", status=status
        ) from None
    return result


def _type_name(tp: Any) -> str:
    args = get_args(tp)
    if args:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(get_origin(tp), '__name__', tp)}[{inner}]"
    return getattr(tp, "__name__", str(tp))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date).

    ``None`` when the header is absent or unreadable; never negative.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        now = now or datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def decode_error(status: int, body: bytes, *, retry_after: str | None = None) -> APIError:
    """Turn an error reply into the matching exception of our tree.

    A body that is not the contract's ``{"error", "message"}`` still gives an
    exception of the status's class, with the body's start as its message.
    """
    try:
        parsed = msgspec.json.decode(body, type=ErrorBody)
        code, message = parsed.error, parsed.message or parsed.error
    except msgspec.DecodeError:
        code = f"http_{status}"
        message = _preview(body).strip() or f"HTTP {status} with no error body"
    return error_from_response(status, code, message, retry_after=parse_retry_after(retry_after))


# ------------------------------------------------------------------ routes, headers


def _segment(value: str) -> str:
    return _quote(value, safe="")


def accounts_path() -> str:
    """Management route: list or link accounts."""
    return "/v1/accounts"


def account_path(account_id: str) -> str:
    """Management route: one account (get, unlink)."""
    return f"/v1/accounts/{_segment(account_id)}"


def _account_route(account_id: str | None, *parts: str) -> str:
    # None selects the reference's bare form, which acts on the key's only account.
    tail = "/".join(_segment(p) for p in parts)
    if account_id is None:
        return f"/v1/{tail}"
    return f"/v1/accounts/{_segment(account_id)}/{tail}"


def summary_path(account_id: str | None) -> str:
    return _account_route(account_id, "account")


def positions_path(account_id: str | None) -> str:
    return _account_route(account_id, "positions")


def orders_path(account_id: str | None) -> str:
    return _account_route(account_id, "orders")


def order_path(account_id: str | None, order_id: str) -> str:
    return _account_route(account_id, "orders", order_id)


def quote_path(account_id: str | None, symbol: str) -> str:
    return _account_route(account_id, "quotes", symbol)


def candles_path(account_id: str | None, symbol: str) -> str:
    return _account_route(account_id, "candles", symbol)


def history_path(account_id: str | None) -> str:
    return _account_route(account_id, "history")


def format_time(value: datetime) -> str:
    """Format a time for a query string: ISO 8601 with a trailing ``Z``.

    A naive datetime is taken as broker time as it is; an aware one is first
    converted to UTC.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text + "Z"


def candles_query(
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> dict[str, str]:
    """Query parameters of ``GET .../candles/{symbol}``."""
    query = {"timeframe": timeframe}
    if start is not None:
        query["from"] = format_time(start)
    if end is not None:
        query["to"] = format_time(end)
    if limit is not None:
        query["limit"] = str(limit)
    return query


def history_query(
    start: datetime | None = None,
    end: datetime | None = None,
    symbol: str | None = None,
    order_type: str | None = None,
    offset: int = 0,
    limit: int = HISTORY_DEFAULT_LIMIT,
) -> dict[str, str]:
    """Query parameters of ``GET .../history``."""
    query = {"offset": str(offset), "limit": str(limit)}
    if start is not None:
        query["from"] = format_time(start)
    if end is not None:
        query["to"] = format_time(end)
    if symbol is not None:
        query["symbol"] = symbol
    if order_type is not None:
        query["type"] = order_type
    return query


_JSON_HEADERS: Final = {"Accept": "application/json", "Content-Type": "application/json"}


def management_headers(api_key: str) -> dict[str, str]:
    """Headers for the management routes (``/v1/accounts``...): ``X-API-Key``."""
    return {**_JSON_HEADERS, "X-API-Key": api_key}


def account_headers(api_key: str, *, idempotency_key: str | None = None) -> dict[str, str]:
    """Headers for per-account routes: ``Authorization: Bearer``.

    Raises ``ValidationError`` when an idempotency key is not 1 to 128 chars.
    """
    headers = {**_JSON_HEADERS, "Authorization": f"Bearer {api_key}"}
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
            raise ValidationError(
                f"an idempotency key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters long",
                status=None,
                code="invalid_idempotency_key",
            )
        headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
    return headers


def stream_headers(api_key: str) -> dict[str, str]:
    """Headers for the WebSocket handshake: ``Authorization: Bearer``."""
    return {"Authorization": f"Bearer {api_key}"}
