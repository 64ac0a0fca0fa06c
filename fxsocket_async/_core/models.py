"""The models of the wire contract: REST bodies and replies, and the constants they use.

No I/O, no clock. Every model is a frozen msgspec Struct. Compatibility rule:
a field the contract does not promise has a default, so a reply from an older
or newer server still decodes; values a newer server may extend (statuses,
order types in replies) are plain ``str``.

The stream's messages and events are in ``events``; how bytes become these
Structs is in ``codec`` and the dialects.
"""

# No "from __future__ import annotations": the Structs' __module__ is rewritten to
# fxsocket_async.types, so msgspec must not resolve string annotations later.
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal, TypeAlias, get_args

import msgspec

__all__ = [
    "ACCOUNT_STATUSES",
    "CANDLES_DEFAULT_LIMIT",
    "CANDLES_MAX_LIMIT",
    "CHANNELS",
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
    "AccountStatus",
    "AccountSummary",
    "Candle",
    "CandlesReply",
    "Channel",
    "CloseOrderReply",
    "CreateOrderRequest",
    "ErrorBody",
    "HistoryPage",
    "LinkAccountRequest",
    "ModifyOrderReply",
    "ModifyOrderRequest",
    "OrderReply",
    "OrderType",
    "Position",
    "Quote",
    "Timeframe",
    "Trade",
]

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
    #: The account's own terminal (the terminal dialect; the vendor SDK shows these).
    #: Empty while it is provisioning, and on a server that serves the reference
    #: dialect alone.
    rest_url: str = ""
    ws_url: str = ""


class LinkAccountRequest(_Model, omit_defaults=True, frozen=True, kw_only=True):
    """Body of ``POST /v1/accounts``. The password never appears in a repr."""

    server: str
    login: int
    password: str
    nickname: str | None = None
    #: ``"mt5"`` or ``"mt4"``; absent means the service's default (MT5).
    platform: str | None = None

    def __repr__(self) -> str:
        return (
            f"LinkAccountRequest(server={self.server!r}, login={self.login!r}, "
            f"password='***', nickname={self.nickname!r}, platform={self.platform!r})"
        )

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [
            ("server", self.server),
            ("login", self.login),
            ("password", "***"),
            ("nickname", self.nickname),
            ("platform", self.platform),
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
