"""The reference dialect: the ``/v1`` routes and the one per-key WebSocket.

What the reference pages show, completed by ``CONTRACT.md`` (docs/protocol.md
says which fact comes from where): management routes authenticated with
``X-API-Key``, per-account routes under ``/v1/accounts/{id}/...`` (or the bare
``/v1/...`` form acting on the key's only account) with ``Authorization:
Bearer``, error bodies ``{"error", "message"}``, and one WebSocket per key
whose per-account events carry ``seq``.

Sans-I/O: every function here builds or reads bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote as _quote

import msgspec

from .._core.codec import ANY_DECODER, decode_reply, encode, format_time, parse_retry_after, preview
from .._core.dialect import (
    Acked,
    HttpReply,
    HttpRequest,
    Notice,
    Refused,
    RestCall,
    StreamEndpoint,
    Topic,
    WireMessage,
)
from .._core.events import (
    EVENT_TYPES,
    ErrorEvent,
    Ping,
    Pong,
    QuoteEvent,
    ServerEvent,
    StreamEvent,
    Subscribe,
    Subscribed,
    UnknownEvent,
    Unsubscribe,
    Unsubscribed,
)
from .._core.models import (
    HISTORY_DEFAULT_LIMIT,
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    Account,
    AccountSummary,
    Candle,
    CandlesReply,
    CloseOrderReply,
    CreateOrderRequest,
    ErrorBody,
    HistoryPage,
    LinkAccountRequest,
    ModifyOrderReply,
    ModifyOrderRequest,
    OrderReply,
    Position,
    Quote,
)
from .._exceptions import APIError, ProtocolError, ValidationError, error_from_response

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_WS_URL",
    "EVENT_DECODER",
    "ReferenceManagement",
    "ReferenceRest",
    "ReferenceStream",
    "account_headers",
    "account_path",
    "accounts_path",
    "candles_path",
    "candles_query",
    "decode_error",
    "decode_event",
    "history_path",
    "history_query",
    "management_headers",
    "order_path",
    "orders_path",
    "positions_path",
    "quote_path",
    "stream_headers",
    "summary_path",
]

DEFAULT_BASE_URL: Final = "https://api.fxsocket.com"
DEFAULT_WS_URL: Final = "wss://ws.fxsocket.com/v1/stream"

# Built once: decoders carry their type's compiled plan. The stream's reader
# calls EVENT_DECODER.decode directly on its hot path and falls back to
# decode_event only when that raises.
EVENT_DECODER: Final = msgspec.json.Decoder(ServerEvent)

T = TypeVar("T")

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
                code="invalid_idempotency_key",
            )
        headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
    return headers


def stream_headers(api_key: str) -> dict[str, str]:
    """Headers for the WebSocket handshake: ``Authorization: Bearer``."""
    return {"Authorization": f"Bearer {api_key}"}


# ------------------------------------------------------------------- replies


def decode_error(
    status: int, body: bytes, *, retry_after: str | None = None, now: datetime | None = None
) -> APIError:
    """Turn an error reply into the matching exception of our tree.

    A body that is not the contract's ``{"error", "message"}`` still gives an
    exception of the status's class, with the body's start as its message.
    """
    try:
        parsed = msgspec.json.decode(body, type=ErrorBody)
        code, message = parsed.error, parsed.message or parsed.error
    except msgspec.DecodeError:
        code = f"http_{status}"
        message = preview(body).strip() or f"HTTP {status} with no error body"
    return error_from_response(
        status, code, message, retry_after=parse_retry_after(retry_after, now=now)
    )


def _reader(reply_type: Any) -> Callable[[HttpReply], Any]:
    """How to read a reply whose success body is ``reply_type`` (``None``: no body)."""

    def read(reply: HttpReply) -> Any:
        if reply.status >= 400:
            raise decode_error(
                reply.status,
                reply.body,
                retry_after=reply.headers.get("Retry-After"),
                now=reply.received_at,
            )
        if reply_type is None:
            return None
        return decode_reply(reply.body, reply_type, status=reply.status)

    return read


def _candles(reply: HttpReply) -> list[Candle]:
    page: CandlesReply = _CANDLES_READER(reply)
    return page.candles


_CANDLES_READER: Final = _reader(CandlesReply)


class _Routes:
    """Builds ``RestCall``s against one base URL."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")

    def _call(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        read: Callable[[HttpReply], T],
        *,
        idempotent: bool = True,
        query: dict[str, str] | None = None,
        body: msgspec.Struct | None = None,
    ) -> RestCall[T]:
        request = HttpRequest(
            method,
            self._base_url + path,
            headers=headers,
            query=query,
            body=None if body is None else encode(body),
        )
        return RestCall(request, read, idempotent)


class ReferenceManagement(_Routes):
    """The key's management routes (``/v1/accounts``), shared by both dialects."""

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url)
        self._headers = management_headers(api_key)

    def __repr__(self) -> str:
        return f"ReferenceManagement(base_url={self._base_url!r})"

    def list_accounts(self) -> RestCall[list[Account]]:
        return self._call("GET", accounts_path(), self._headers, _reader(list[Account]))

    def get_account(self, account_id: str) -> RestCall[Account]:
        return self._call("GET", account_path(account_id), self._headers, _reader(Account))

    def link_account(self, request: LinkAccountRequest) -> RestCall[Account]:
        # Never sent twice after an ambiguous failure: a link is not idempotent.
        return self._call(
            "POST", accounts_path(), self._headers, _reader(Account), idempotent=False, body=request
        )

    def unlink_account(self, account_id: str) -> RestCall[None]:
        # A repeated unlink is judged by its reply (404 after a lost reply).
        return self._call("DELETE", account_path(account_id), self._headers, _reader(None))


class ReferenceRest(_Routes):
    """One account's operations in the reference dialect (``account_id=None``: bare routes)."""

    name = "reference"

    def __init__(self, base_url: str, api_key: str, account_id: str | None) -> None:
        super().__init__(base_url)
        self._api_key = api_key
        self._headers = account_headers(api_key)
        self.account_id = account_id

    def __repr__(self) -> str:
        return f"ReferenceRest(base_url={self._base_url!r}, account_id={self.account_id!r})"

    def summary(self) -> RestCall[AccountSummary]:
        return self._call(
            "GET", summary_path(self.account_id), self._headers, _reader(AccountSummary)
        )

    def positions(self) -> RestCall[list[Position]]:
        return self._call(
            "GET", positions_path(self.account_id), self._headers, _reader(list[Position])
        )

    def pending_orders(self) -> RestCall[list[OrderReply]]:
        return self._call(
            "GET", orders_path(self.account_id), self._headers, _reader(list[OrderReply])
        )

    def create_order(self, order: CreateOrderRequest, idempotency_key: str) -> RestCall[OrderReply]:
        # Idempotent because the key travels with every attempt: a replay trades nothing.
        headers = account_headers(self._api_key, idempotency_key=idempotency_key)
        return self._call(
            "POST", orders_path(self.account_id), headers, _reader(OrderReply), body=order
        )

    def modify_order(self, order_id: str, change: ModifyOrderRequest) -> RestCall[ModifyOrderReply]:
        # Absolute values: sending the same change twice leaves the same order.
        return self._call(
            "PATCH",
            order_path(self.account_id, order_id),
            self._headers,
            _reader(ModifyOrderReply),
            body=change,
        )

    def close_order(self, order_id: str) -> RestCall[CloseOrderReply]:
        # Judged by its reply: a 404 after a retry is checked against the history.
        return self._call(
            "DELETE", order_path(self.account_id, order_id), self._headers, _reader(CloseOrderReply)
        )

    def quote(self, symbol: str) -> RestCall[Quote]:
        return self._call("GET", quote_path(self.account_id, symbol), self._headers, _reader(Quote))

    def candles(
        self,
        symbol: str,
        timeframe: str,
        start: datetime | None,
        end: datetime | None,
        limit: int | None,
    ) -> RestCall[list[Candle]]:
        return self._call(
            "GET",
            candles_path(self.account_id, symbol),
            self._headers,
            _candles,
            query=candles_query(timeframe, start, end, limit),
        )

    def history_page(
        self,
        offset: int,
        limit: int,
        start: datetime | None = None,
        end: datetime | None = None,
        symbol: str | None = None,
        order_type: str | None = None,
    ) -> RestCall[HistoryPage]:
        return self._call(
            "GET",
            history_path(self.account_id),
            self._headers,
            _reader(HistoryPage),
            query=history_query(start, end, symbol, order_type, offset, limit),
        )


# -------------------------------------------------------------------- stream


def decode_event(frame: bytes | str) -> StreamEvent:
    """Decode one stream frame.

    Returns the event Struct, or ``UnknownEvent`` for a type this version does
    not know. Raises ``ProtocolError`` when the frame is not JSON, is not an
    object with a string ``type``, or is a known type missing required fields.
    """
    try:
        event: ServerEvent = EVENT_DECODER.decode(frame)
    except msgspec.ValidationError as exc:
        return _unknown_or_raise(frame, exc)
    except msgspec.DecodeError as exc:
        raise ProtocolError(
            f"stream frame is not valid JSON ({exc}): {preview(frame)!r}",
            code="malformed_frame",
        ) from None
    return event


def _unknown_or_raise(frame: bytes | str, exc: msgspec.ValidationError) -> UnknownEvent:
    try:
        raw = ANY_DECODER.decode(frame)
    except msgspec.DecodeError:
        raise ProtocolError(
            f"stream frame is not a JSON object: {preview(frame)!r}", code="malformed_frame"
        ) from None
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(
            f"stream frame has no string 'type' field: {preview(frame)!r}",
            code="malformed_frame",
        )
    if kind in EVENT_TYPES:
        raise ProtocolError(
            f"{kind!r} frame does not match the contract ({exc}): {preview(frame)!r}",
            code="malformed_frame",
        )
    return UnknownEvent(type=kind, raw=raw)


#: The reference's channels behind each kind of topic.
_EVENT_CHANNELS: Final = ("orders", "account")


class ReferenceStream:
    """The per-key WebSocket: subscriptions by request id, numbered events."""

    name = "reference"
    scope: Literal["key"] = "key"
    events_carry_seq = True
    quote_type = QuoteEvent
    decode = staticmethod(EVENT_DECODER.decode)

    def __init__(self, ws_url: str, api_key: str) -> None:
        self._endpoint = StreamEndpoint(ws_url, stream_headers(api_key), ws_url)

    def __repr__(self) -> str:
        return f"ReferenceStream(url={self._endpoint.shown!r})"

    def endpoint(self, account_id: str | None) -> StreamEndpoint:
        return self._endpoint

    def decode_slowly(self, frame: bytes | str) -> Any:
        return decode_event(frame)

    def interpret(self, event: Any) -> Any:
        match event:
            case Subscribed(id=request_id) | Unsubscribed(id=request_id):
                return Acked(request_id)
            case Pong():
                return None
            case ErrorEvent(id=None):
                return Notice(event.error, event.message)
            case ErrorEvent(id=request_id):
                return Refused(request_id, event.error, event.message)
        return event

    def subscribe(self, topics: Sequence[Topic], ids: Iterator[int]) -> list[WireMessage]:
        messages = []
        for account_id, symbols, kinds in _grouped(topics):
            if symbols:
                request_id = next(ids)
                frame = Subscribe(
                    id=request_id, channel="quotes", account_id=account_id, symbols=symbols
                )
                covered = tuple(Topic(account_id, "quotes", s) for s in symbols)
                messages.append(WireMessage(encode(frame), request_id, covered))
            if "events" in kinds:
                for channel in _EVENT_CHANNELS:
                    request_id = next(ids)
                    frame = Subscribe(id=request_id, channel=channel, account_id=account_id)
                    messages.append(
                        WireMessage(encode(frame), request_id, (Topic(account_id, "events"),))
                    )
        return messages

    def unsubscribe(self, topics: Sequence[Topic], ids: Iterator[int]) -> list[bytes]:
        frames = []
        for account_id, symbols, kinds in _grouped(topics):
            if symbols:
                frames.append(
                    encode(
                        Unsubscribe(
                            id=next(ids), channel="quotes", account_id=account_id, symbols=symbols
                        )
                    )
                )
            if "events" in kinds:
                for channel in _EVENT_CHANNELS:
                    frames.append(
                        encode(Unsubscribe(id=next(ids), channel=channel, account_id=account_id))
                    )
        return frames

    def ping(self, request_id: int) -> bytes:
        return encode(Ping(id=request_id))


def _grouped(topics: Sequence[Topic]) -> list[tuple[str, list[str], set[str]]]:
    # One quotes message per account (its symbols sorted), then its events channels.
    by_account: dict[str, tuple[list[str], set[str]]] = {}
    for topic in topics:
        symbols, kinds = by_account.setdefault(topic.account_id, ([], set()))
        if topic.kind == "quotes" and topic.symbol is not None:
            symbols.append(topic.symbol)
        else:
            kinds.add(topic.kind)
    return [(a, sorted(s), k) for a, (s, k) in by_account.items()]
