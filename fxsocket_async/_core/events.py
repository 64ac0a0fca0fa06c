"""The stream's messages and events: what travels over the WebSocket, as Structs.

No I/O, no clock. Server frames are a tagged union on ``type`` (client
messages on ``action``), decoded by one Decoder built once (``codec``).
``StreamGap`` is the one event the client makes itself: it is never on the wire.
"""

# No "from __future__ import annotations": the Structs' __module__ is rewritten to
# fxsocket_async.types, so msgspec must not resolve string annotations later.
from datetime import datetime
from typing import Any, Final, TypeAlias, get_args

import msgspec

from .models import Quote

__all__ = [
    "EVENT_TYPES",
    "AccountEvent",
    "AccountStatusChanged",
    "AccountStatusData",
    "AccountUpdate",
    "AccountUpdateData",
    "ClientMessage",
    "ErrorEvent",
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
    "OrderPartiallyClosed",
    "OrderPartiallyClosedData",
    "Ping",
    "Pong",
    "QuoteEvent",
    "ServerEvent",
    "StreamEvent",
    "StreamGap",
    "Subscribe",
    "Subscribed",
    "UnknownEvent",
    "Unsubscribe",
    "Unsubscribed",
]

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


class OrderPartiallyClosedData(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    id: str
    #: The volume closed, and the volume the position keeps.
    volume: float
    remaining: float
    #: ``None`` when rebuilt from REST, which shows the smaller volume but not the deal.
    close_price: float | None = None
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


class OrderPartiallyClosed(_AccountEvent, tag="order_partially_closed", frozen=True, kw_only=True):
    """Part of a position closed; it stays open with the rest of its volume."""

    data: OrderPartiallyClosedData


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
    | OrderPartiallyClosed
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
    | OrderPartiallyClosed
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


class StreamGap(msgspec.Struct, frozen=True, kw_only=True):
    """The stream was down or skipped events; what follows until live events is recovered.

    ``accounts`` lists the affected accounts, ``started_at`` / ``ended_at``
    (UTC, this machine's clock) and ``duration`` (seconds) say when and how
    long, ``reason`` is ``"reconnect"`` or ``"seq_jump"``.
    """

    accounts: tuple[str, ...]
    started_at: datetime
    ended_at: datetime
    duration: float
    reason: str
