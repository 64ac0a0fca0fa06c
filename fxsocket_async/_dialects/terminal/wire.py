"""The terminal dialect's wire: camelCase bodies and stream frames, as the vendor SDK reads them.

Facts from the vendor SDK (``fxsocket`` 0.8.0: ``terminal/client.py``,
``terminal/stream.py``, ``models.py``); see docs/protocol.md. These Structs
exist only to be converted into the library's models (``_core.models``,
``_core.market``) by the dialect.
"""

# No "from __future__ import annotations": msgspec reads these annotations at runtime.
from datetime import datetime
from typing import Any, Final, TypeAlias

import msgspec

from ..._core.market import TerminalStatus
from ..._core.models import Quote

__all__ = [
    "OPERATIONS",
    "SERVER_FRAME",
    "TICK_FRAME",
    "TIMEFRAMES",
    "ClientMessage",
    "TAccountSummary",
    "TCandle",
    "TErrorBody",
    "THealth",
    "TOpenedOrder",
    "TOrderResult",
    "TTradeData",
    "TermFrame",
]


class _Camel(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


class TAccountSummary(_Camel, frozen=True, kw_only=True):
    balance: float
    equity: float
    margin: float = 0.0
    free_margin: float = 0.0
    currency: str = ""
    credit: float = 0.0
    profit: float = 0.0
    margin_level: float = 0.0
    leverage: int = 0
    type: str = ""


class TOpenedOrder(_Camel, frozen=True, kw_only=True):
    ticket: int
    symbol: str
    type: str
    kind: str = "Position"
    lots: float = 0.0
    open_price: float = 0.0
    current_price: float = 0.0
    stop_loss: float = 0.0
    take_profit: float = 0.0
    swap: float = 0.0
    profit: float = 0.0
    magic: int = 0
    comment: str = ""
    open_time: datetime | None = None


class TOrderResult(_Camel, frozen=True, kw_only=True):
    success: bool
    outcome: str = ""
    retcode: int = 0
    retcode_description: str = ""
    deal: int = 0
    order: int = 0
    volume: float = 0.0
    price: float = 0.0
    bid: float = 0.0
    ask: float = 0.0
    comment: str = ""


class TCandle(_Camel, frozen=True, kw_only=True):
    time: datetime
    open: float
    high: float
    low: float
    close: float
    tick_volume: int = 0
    real_volume: int = 0
    spread: int = 0


class THealth(_Camel, frozen=True, kw_only=True):
    status: str
    server_time: str = ""


class TErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """Both envelopes the vendor SDK reads: ``{"error", "detail"}`` and
    ``{"error", "message", "command_id"}``."""

    error: str = ""
    detail: str = ""
    message: str = ""


class TTradeData(_Camel, frozen=True, kw_only=True):
    deal: int = 0
    order: int = 0
    position: int
    symbol: str = ""
    type: str = ""
    entry: str = ""
    volume: float = 0.0
    price: float = 0.0
    profit: float = 0.0
    commission: float = 0.0
    swap: float = 0.0
    magic: int = 0
    comment: str = ""
    time: datetime | None = None
    degraded: bool = False


# ------------------------------------------------------------------- stream


class _Frame(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    pass


class TTick(_Frame, tag="tick", frozen=True, kw_only=True):
    data: Quote
    symbol: str = ""
    #: Never on the wire: the socket's account is implied (see StreamDialect).
    account_id: str = ""


class TBar(_Frame, tag="bar", frozen=True, kw_only=True):
    symbol: str
    timeframe: str
    data: TCandle


class TAccountFrame(_Frame, tag="account", frozen=True, kw_only=True):
    data: TAccountSummary


class TPositionsFrame(_Frame, tag="positions", frozen=True, kw_only=True):
    data: list[TOpenedOrder]


class TTradeFrame(_Frame, tag="trade", frozen=True, kw_only=True):
    data: TTradeData


class TTerminalFrame(_Frame, tag="terminal", frozen=True, kw_only=True):
    data: TerminalStatus


class TWarning(_Frame, tag="warning", frozen=True, kw_only=True):
    dropped: int = 0


class TSubscribed(_Frame, tag="subscribed", frozen=True, kw_only=True):
    topic: str = ""
    message: str = ""


class TUnsubscribed(_Frame, tag="unsubscribed", frozen=True, kw_only=True):
    topic: str = ""
    message: str = ""


class TError(_Frame, tag="error", frozen=True, kw_only=True):
    topic: str = ""
    message: str = ""


class TSubscriptions(_Frame, tag="subscriptions", frozen=True, kw_only=True):
    data: list[Any] = msgspec.field(default_factory=list)


TermFrame: TypeAlias = (
    TTick
    | TBar
    | TAccountFrame
    | TPositionsFrame
    | TTradeFrame
    | TTerminalFrame
    | TWarning
    | TSubscribed
    | TUnsubscribed
    | TError
    | TSubscriptions
)
SERVER_FRAME: Final = msgspec.json.Decoder(TermFrame)
#: The tick frame alone, which most frames are: see ``StreamDialect.decode_quote``.
TICK_FRAME: Final = msgspec.json.Decoder(TTick)
FRAME_TYPES: Final = frozenset(cls.__struct_config__.tag for cls in TermFrame.__args__)


class _ClientMessage(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="action", omit_defaults=True
):
    pass


class TSubscribe(_ClientMessage, tag="subscribe", frozen=True, kw_only=True):
    topic: str
    symbol: str | None = None
    timeframe: str | None = None


class TUnsubscribe(_ClientMessage, tag="unsubscribe", frozen=True, kw_only=True):
    topic: str
    symbol: str | None = None
    timeframe: str | None = None


ClientMessage: TypeAlias = TSubscribe | TUnsubscribe

#: Our order types and the terminal's operations.
OPERATIONS: Final = {
    "BUY": "Buy",
    "SELL": "Sell",
    "BUY_LIMIT": "BuyLimit",
    "SELL_LIMIT": "SellLimit",
    "BUY_STOP": "BuyStop",
    "SELL_STOP": "SellStop",
}
TYPES: Final = {wire.lower(): ours for ours, wire in OPERATIONS.items()} | {
    "buystoplimit": "BUY_STOP_LIMIT",
    "sellstoplimit": "SELL_STOP_LIMIT",
}
#: Our timeframes and the terminal's (the month is MN1 there).
TIMEFRAMES: Final = {"M1": "M1", "M5": "M5", "M15": "M15", "M30": "M30", "H1": "H1",
                     "H4": "H4", "D1": "D1", "W1": "W1", "MN": "MN1"}  # fmt: skip
OUR_TIMEFRAMES: Final = {wire: ours for ours, wire in TIMEFRAMES.items()}


def our_type(wire: str) -> str:
    """A terminal order type (``Buy``, ``BuyLimit``...) in ours (``BUY``, ``BUY_LIMIT``...)."""
    return TYPES.get(wire.replace("_", "").replace("-", "").lower(), wire.upper())
