"""The dialect seam: everything that differs between the service's wire protocols.

The service speaks two dialects. The reference dialect (``/v1/...`` routes,
one WebSocket per key, numbered events) is the one the reference pages
describe; the terminal dialect (each account's own REST routes and
WebSocket) is the one the vendor's SDK speaks. The rest of the library talks
to the two through these interfaces and never branches on which it has:

- ``RestDialect`` turns one operation (an account's summary, an order) into a
  ``RestCall``: the ``HttpRequest`` to send, whether sending it twice is
  harmless, and how to read the ``HttpReply`` into our models or exceptions.
  Routes, where the key goes and the error body's shape live there.
- ``StreamDialect`` says where a WebSocket goes and how it authenticates,
  which socket carries which account (``scope``), how subscriptions are
  spelled and acknowledged, how frames decode, and whether per-account events
  carry ``seq``. ``StreamProtocol`` runs any dialect.

Sans-I/O, like the whole core: these are descriptions of bytes, not sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeAlias, TypeVar

from .market import (
    CloseAllSummary,
    ClosedPosition,
    Deal,
    HealthChecks,
    MarginCalc,
    ProfitCalc,
    ServerTimezone,
    SymbolInfo,
)
from .models import (
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

__all__ = [
    "Acked",
    "Correlation",
    "DealReport",
    "HttpReply",
    "HttpRequest",
    "Notice",
    "Refused",
    "RestCall",
    "RestDialect",
    "ServerDropped",
    "SocketScope",
    "StreamDialect",
    "StreamEndpoint",
    "Topic",
    "TopicKind",
    "WireMessage",
]

T = TypeVar("T")


# ------------------------------------------------------------------------ REST


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request, fully spelled: the transport sends exactly this."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    query: Mapping[str, str] | None = None
    body: bytes | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        """``METHOD url`` for log lines and error messages (no headers: they hold the key)."""
        return f"{self.method} {self.url}"


@dataclass(frozen=True, slots=True)
class HttpReply:
    """What came back: status, headers (case-insensitive mapping) and body.

    ``received_at`` is the wall-clock time the transport read it, so that a
    ``Retry-After`` given as a date can be measured without reading a clock.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RestCall(Generic[T]):
    """A request and how to read its reply.

    ``read`` turns any reply into the result or raises the matching
    ``APIError`` / ``ProtocolError``. ``idempotent`` says whether sending it
    again after an ambiguous failure is harmless (a GET, an order POST with
    its idempotency key...); only then is it retried on more than a 429.
    """

    request: HttpRequest
    read: Callable[[HttpReply], T]
    idempotent: bool


class RestDialect(Protocol):
    """How one account's REST operations are spelled.

    Each method returns the ``RestCall`` of one operation and does no I/O.
    Methods raise ``ValidationError`` for input the dialect cannot express.
    """

    @property
    def name(self) -> str: ...

    @property
    def modify_reply_complete(self) -> bool:
        """Whether a modify's reply states every stop in force (else the order is read)."""
        ...

    @property
    def close_reply_complete(self) -> bool:
        """Whether a close's reply tells a close from a cancel and carries the profit
        (else the open orders are read before, and the history after)."""
        ...

    def summary(self) -> RestCall[AccountSummary]: ...

    def positions(self) -> RestCall[list[Position]]: ...

    def pending_orders(self) -> RestCall[list[OrderReply]]: ...

    def open_orders(self) -> RestCall[tuple[list[Position], list[OrderReply]]] | None:
        """Positions and pending orders read at one moment, where one route has both
        (``None``: read ``positions`` then ``pending_orders``)."""
        ...

    def create_order(
        self, order: CreateOrderRequest, idempotency_key: str
    ) -> RestCall[OrderReply]: ...

    def submission_marker(self, order: CreateOrderRequest, idempotency_key: str) -> str | None:
        """The comment an order carries when ``create_order`` cannot be re-sent safely
        (no idempotency key on the route): after an ambiguous failure the order is
        looked for by it. ``None``: re-sending is safe, or the caller's own comment
        is used and cannot tell one submission from another."""
        ...

    def modify_order(
        self, order_id: str, change: ModifyOrderRequest
    ) -> RestCall[ModifyOrderReply]: ...

    def close_order(
        self, order_id: str, volume: float | None = None
    ) -> RestCall[CloseOrderReply]: ...

    def quote(self, symbol: str) -> RestCall[Quote]: ...

    def candles(
        self,
        symbol: str,
        timeframe: str,
        start: datetime | None,
        end: datetime | None,
        limit: int | None,
        now: datetime,
    ) -> RestCall[list[Candle]]:
        """``now`` (the caller's clock) bounds a range the caller left open, for a
        dialect whose route needs both ends."""
        ...

    def history_page(
        self,
        offset: int,
        limit: int,
        start: datetime | None = None,
        end: datetime | None = None,
        symbol: str | None = None,
        order_type: str | None = None,
    ) -> RestCall[HistoryPage]: ...

    # What an account's own terminal adds (the reference dialect raises UnsupportedError).

    def symbols(self) -> RestCall[list[str]]: ...

    def symbol_info(self, symbol: str) -> RestCall[SymbolInfo]: ...

    def server_timezone(self) -> RestCall[ServerTimezone]: ...

    def close_all(
        self, symbol: str | None, magic: int | None, delete_pending: bool
    ) -> RestCall[CloseAllSummary]: ...

    def calc_margin(
        self, symbol: str, order_type: str, volume: float, price: float
    ) -> RestCall[MarginCalc]: ...

    def calc_profit(
        self, symbol: str, order_type: str, volume: float, price_open: float, price_close: float
    ) -> RestCall[ProfitCalc]: ...

    def order_history(
        self, start: datetime | None, end: datetime | None
    ) -> RestCall[list[Deal]]: ...

    def position_history(
        self, start: datetime | None, end: datetime | None
    ) -> RestCall[list[ClosedPosition]]: ...

    def status(self) -> RestCall[dict[str, Any]]: ...

    def probe(self, path: str) -> RestCall[HealthChecks]: ...


# ---------------------------------------------------------------------- stream

#: Which local consumers a server-side subscription serves: quotes of one
#: symbol, an account's order, balance and status events (the reference's
#: channels), or the terminal's topics: bars (``symbol`` is ``SYMBOL:TF``), the
#: open-orders snapshots, deals, balances and the terminal's own status.
TopicKind: TypeAlias = Literal[
    "quotes", "events", "bars", "positions", "trades", "account", "terminal"
]
#: "key": one socket carries every account of the key; "account": one socket per account.
SocketScope: TypeAlias = Literal["key", "account"]
#: What ties an acknowledgement to the message it answers (a request id, a topic...).
Correlation: TypeAlias = Hashable


@dataclass(frozen=True, slots=True)
class Topic:
    """One server-side subscription, as the protocol ref-counts it."""

    account_id: str
    kind: TopicKind
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class StreamEndpoint:
    """Where a WebSocket goes and how it authenticates.

    ``shown`` is the URL as logs and errors may show it: a dialect that puts
    the key in the query string gives it with the key masked.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    shown: str = ""


@dataclass(frozen=True, slots=True)
class WireMessage:
    """A client message to send, and the acknowledgement that will answer it."""

    frame: bytes
    correlation: Correlation
    topics: tuple[Topic, ...]


@dataclass(frozen=True, slots=True)
class Acked:
    """The server acknowledged the message with this correlation."""

    correlation: Correlation


@dataclass(frozen=True, slots=True)
class Refused:
    """The server refused the message with this correlation: its code and text."""

    correlation: Correlation
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A stream-level error frame that answers no request."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class DealReport:
    """A deal the server reports: a position opened (``entry="in"``) or closed, in part
    or whole (``"out"``), at ``price``; ``profit`` includes commission and swap."""

    account_id: str
    position_id: str
    entry: Literal["in", "out"]
    volume: float
    price: float
    profit: float = 0.0


@dataclass(frozen=True, slots=True)
class ServerDropped:
    """The server says it dropped ``count`` messages because this client lagged."""

    count: int


class StreamDialect(Protocol):
    """How a dialect's WebSocket is reached, spoken and read.

    Hot-path contract: ``decode`` turns a frame into a Struct (raising
    ``msgspec.DecodeError`` when it cannot); a frame of type ``quote_type``
    is a quote, with attributes ``data`` (a ``Quote``) and ``account_id``
    (``""`` when the socket's account is implied). ``decode_quote`` decodes a
    quote frame alone, to the same ``quote_type`` value ``decode`` gives, and
    raises ``msgspec.DecodeError`` for any other frame; ``decode_quote_lines``
    decodes frames joined by newlines, in one call, into a list of those values
    (msgspec's ``Decoder.decode_lines`` of the same decoder). Every other
    decoded frame goes through ``interpret``.
    """

    @property
    def name(self) -> str: ...

    @property
    def scope(self) -> SocketScope: ...

    @property
    def events_carry_seq(self) -> bool: ...

    @property
    def quote_type(self) -> type: ...

    @property
    def topic_kinds(self) -> frozenset[str]:
        """The kinds of topic this dialect can subscribe."""
        ...

    def event_topics(self, account_id: str) -> list[Topic]:
        """The topics that carry an account's order, balance and status events."""
        ...

    @property
    def decode(self) -> Callable[..., Any]: ...

    @property
    def decode_quote(self) -> Callable[..., Any]: ...

    @property
    def decode_quote_lines(self) -> Callable[..., list[Any]]: ...

    def endpoint(self, account_id: str | None) -> StreamEndpoint:
        """The socket that carries ``account_id`` (``None`` for a per-key socket)."""
        ...

    def decode_slowly(self, frame: bytes | str) -> Any:
        """The fallback when ``decode`` failed: an ``UnknownEvent``, or ``ProtocolError``."""
        ...

    def interpret(self, event: Any) -> Any:
        """A non-quote frame as the protocol reads it: ``Acked``, ``Refused``,
        ``Notice``, ``ServerDropped``, an account event, a ``DealReport``, a
        ``PositionsSnapshot``, a ``Bar``, a ``TerminalStatus``, an
        ``UnknownEvent``, or ``None`` for a frame that only proves the socket
        is alive."""
        ...

    def subscribe(self, topics: Sequence[Topic], ids: Iterator[int]) -> list[WireMessage]:
        """The messages that subscribe ``topics``, each with its correlation."""
        ...

    def unsubscribe(self, topics: Sequence[Topic], ids: Iterator[int]) -> list[bytes]:
        """The messages that undo ``topics`` (their acknowledgements are not awaited)."""
        ...

    def ping(self, request_id: int) -> bytes | None:
        """An application-level ping, or ``None`` to use WebSocket ping frames."""
        ...
