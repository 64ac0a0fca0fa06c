"""The models users receive: REST replies, stream events and counters.

``from fxsocket_async.types import Quote, OrderOpened`` (as openai-python keeps
its models in ``openai.types``). Every one is a frozen msgspec Struct; their
``__module__`` is this module, so reprs, pickles and tracebacks name it.
Wire plumbing users never receive (request bodies, acknowledgements, pongs,
error frames) is not here.
"""

from __future__ import annotations

from ._core.events import (
    AccountEvent,
    AccountStatusChanged,
    AccountStatusData,
    AccountUpdate,
    AccountUpdateData,
    OrderCancelled,
    OrderCancelledData,
    OrderClosed,
    OrderClosedData,
    OrderFilled,
    OrderFilledData,
    OrderModified,
    OrderModifiedData,
    OrderOpened,
    OrderOpenedData,
    OrderPartiallyClosed,
    OrderPartiallyClosedData,
    StreamGap,
    UnknownEvent,
)
from ._core.market import (
    Bar,
    CloseAllResult,
    CloseAllSummary,
    ClosedPosition,
    CommissionRule,
    CommissionTier,
    Deal,
    HealthChecks,
    MarginCalc,
    PositionsSnapshot,
    ProfitCalc,
    ServerTimezone,
    SymbolInfo,
    TerminalHealth,
    TerminalStatus,
    TradingSession,
)
from ._core.models import (
    Account,
    AccountStatus,
    AccountSummary,
    Candle,
    CloseOrderReply,
    HistoryPage,
    ModifyOrderReply,
    OrderReply,
    OrderType,
    Position,
    Quote,
    Timeframe,
    Trade,
)
from ._stream.stats import ConnectionState, ConnectionStateName, StreamStats, SubscriptionStats

__all__ = [
    "Account",
    "AccountEvent",
    "AccountStatus",
    "AccountStatusChanged",
    "AccountStatusData",
    "AccountSummary",
    "AccountUpdate",
    "AccountUpdateData",
    "Bar",
    "Candle",
    "CloseAllResult",
    "CloseAllSummary",
    "CloseOrderReply",
    "ClosedPosition",
    "CommissionRule",
    "CommissionTier",
    "ConnectionState",
    "ConnectionStateName",
    "Deal",
    "HealthChecks",
    "HistoryPage",
    "MarginCalc",
    "ModifyOrderReply",
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
    "OrderReply",
    "OrderType",
    "Position",
    "PositionsSnapshot",
    "ProfitCalc",
    "Quote",
    "ServerTimezone",
    "StreamGap",
    "StreamStats",
    "SubscriptionStats",
    "SymbolInfo",
    "TerminalHealth",
    "TerminalStatus",
    "Timeframe",
    "Trade",
    "TradingSession",
    "UnknownEvent",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
