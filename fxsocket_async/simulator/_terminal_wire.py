"""The terminal dialect's wire, as the simulator writes and reads it: camelCase Structs.

The field names and shapes are the vendor SDK's (``fxsocket`` 0.8.0, its
``models.py`` and ``terminal/stream.py``); the simulator defines its own
Structs for them, so that it shares nothing with the client it tests. Times
are strings in broker server time with a trailing ``Z`` (``broker_time``), as
the vendor SDK documents them.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

__all__ = [
    "AccountFrame",
    "BarFrame",
    "CloseAllBody",
    "ErrorFrame",
    "OrderCloseBody",
    "OrderModifyBody",
    "OrderSendBody",
    "PositionsFrame",
    "SubscribedFrame",
    "SubscriptionsFrame",
    "TAccountInfo",
    "TAccountSummary",
    "TCandle",
    "TCloseAllResult",
    "TCloseAllSummary",
    "TCommissionRule",
    "TCommissionTier",
    "TError",
    "THealth",
    "THealthChecks",
    "THistoryDeal",
    "TMarginCalc",
    "TOpenedOrder",
    "TOrderResult",
    "TPositionTrade",
    "TProfitCalc",
    "TQuote",
    "TServerTimezone",
    "TSubscription",
    "TSymbolInfo",
    "TTerminalStatus",
    "TTradeEvent",
    "TTradingSession",
    "TerminalFrame",
    "TickFrame",
    "TradeFrame",
    "UnsubscribedFrame",
    "WarningFrame",
    "broker_time",
]


def broker_time(value: datetime) -> str:
    """A broker-time datetime as the terminal writes it: ``2026-06-22T15:30:00.000Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class _Camel(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Terminal payloads: camelCase on the wire."""


class TError(msgspec.Struct, frozen=True, kw_only=True):
    """Every terminal error body: ``{"error": code, "detail": text}``."""

    error: str
    detail: str


# ---------------------------------------------------------------- account


class TAccountSummary(_Camel, frozen=True, kw_only=True):
    balance: float
    credit: float
    profit: float
    equity: float
    margin: float
    free_margin: float
    margin_level: float
    leverage: int
    currency: str
    type: str


class TAccountInfo(_Camel, frozen=True, kw_only=True):
    name: str
    login: int
    server: str
    company: str
    currency: str
    currency_digits: int
    leverage: int
    type: str
    margin_mode: str
    margin_so_mode: str
    margin_call_level: float
    stop_out_level: float
    trade_allowed: bool
    trade_expert: bool
    limit_orders: int
    fifo_close: bool


class TOpenedOrder(_Camel, frozen=True, kw_only=True):
    ticket: int
    symbol: str
    type: str
    kind: str
    lots: float
    open_price: float
    current_price: float
    stop_loss: float
    take_profit: float
    swap: float
    profit: float
    magic: int
    comment: str
    open_time: str


class THistoryDeal(_Camel, frozen=True, kw_only=True):
    ticket: int
    order: int
    position: int
    symbol: str
    type: str
    entry: str
    volume: float
    price: float
    commission: float
    swap: float
    profit: float
    magic: int
    comment: str
    time: str


class TPositionTrade(_Camel, frozen=True, kw_only=True):
    position_id: int
    symbol: str
    type: str
    volume: float
    open_time: str
    open_price: float
    close_time: str
    close_price: float
    profit: float
    swap: float
    commission: float
    net_profit: float
    magic: int
    comment: str


class TServerTimezone(_Camel, frozen=True, kw_only=True):
    server_time: str
    utc_offset_seconds: int


# ------------------------------------------------------------ market data


class TQuote(_Camel, frozen=True, kw_only=True):
    symbol: str
    bid: float
    ask: float
    time: str
    last: float = 0.0
    volume: int = 0


class TCommissionTier(_Camel, frozen=True, kw_only=True):
    mode: str
    volume_type: str
    value: float
    min_value: float
    max_value: float
    range_from: float
    range_to: float
    currency: str


class TCommissionRule(_Camel, frozen=True, kw_only=True):
    currency: str
    range_mode: str
    charge_mode: str
    entry_mode: str
    direction_mode: str
    profit_mode: str
    tiers: list[TCommissionTier]


class TTradingSession(msgspec.Struct, frozen=True, kw_only=True):
    day: str
    start: str = msgspec.field(name="from")
    end: str = msgspec.field(name="to")


class TSymbolInfo(_Camel, frozen=True, kw_only=True):
    symbol: str
    description: str
    digits: int
    point: float
    tick_size: float
    tick_value: float
    contract_size: float
    volume_min: float
    volume_max: float
    volume_step: float
    stops_level: int
    freeze_level: int
    spread: int
    trade_mode: str
    swap_long: float
    swap_short: float
    bid: float
    ask: float
    currency_base: str
    currency_profit: str
    currency_margin: str
    commissions: list[TCommissionRule]
    sessions: list[TTradingSession]


class TCandle(_Camel, frozen=True, kw_only=True):
    time: str
    open: float
    high: float
    low: float
    close: float
    tick_volume: int
    real_volume: int
    spread: int


class TMarginCalc(_Camel, frozen=True, kw_only=True):
    symbol: str
    operation: str
    volume: float
    price: float
    margin: float
    currency: str


class TProfitCalc(_Camel, frozen=True, kw_only=True):
    symbol: str
    operation: str
    volume: float
    price_open: float
    price_close: float
    profit: float
    currency: str


# ---------------------------------------------------------------- trading


class TOrderResult(_Camel, frozen=True, kw_only=True):
    success: bool
    outcome: str
    retcode: int
    retcode_description: str
    deal: int
    order: int
    volume: float
    price: float
    bid: float
    ask: float
    comment: str


class TCloseAllResult(_Camel, frozen=True, kw_only=True):
    ticket: int
    kind: str
    success: bool
    retcode: int
    retcode_description: str


class TCloseAllSummary(_Camel, frozen=True, kw_only=True):
    requested: int
    closed: int
    failed: int
    results: list[TCloseAllResult]


class OrderSendBody(_Camel, frozen=True, kw_only=True):
    symbol: str
    operation: str
    volume: float
    price: float | None = None
    slippage: int | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    stop_limit_price: float | None = None
    expiration: str | None = None
    comment: str | None = None
    expert_id: int | None = None


class OrderModifyBody(_Camel, frozen=True, kw_only=True):
    ticket: int
    stop_loss: float | None = None
    take_profit: float | None = None
    price: float | None = None
    stop_limit_price: float | None = None
    expiration: str | None = None


class OrderCloseBody(_Camel, frozen=True, kw_only=True):
    ticket: int
    volume: float | None = None
    slippage: int | None = None


class CloseAllBody(_Camel, frozen=True, kw_only=True):
    symbol: str | None = None
    magic: int | None = None
    delete_pending: bool | None = None


# ----------------------------------------------------------------- health


class TTerminalHealth(_Camel, frozen=True, kw_only=True):
    alive: bool
    build: int
    ping_ms: int


class TBrokerHealth(_Camel, frozen=True, kw_only=True):
    connected: bool
    server: str


class TAccountHealth(_Camel, frozen=True, kw_only=True):
    logged_in: bool
    login: int
    currency: str
    type: str
    trade_allowed: bool


class TBridgeHealth(_Camel, frozen=True, kw_only=True):
    version: str
    trade_ea_ready: bool
    trade_ea_heartbeat_age_ms: int
    symbols_synced: bool


class THealth(_Camel, frozen=True, kw_only=True):
    status: str
    terminal: TTerminalHealth
    broker: TBrokerHealth
    account: TAccountHealth
    bridge: TBridgeHealth
    server_time: str


class THealthChecks(_Camel, frozen=True, kw_only=True):
    status: str
    terminal: bool
    broker: bool
    account: bool


# ----------------------------------------------------------------- stream


class TTradeEvent(_Camel, frozen=True, kw_only=True):
    deal: int
    order: int
    position: int
    symbol: str
    type: str
    entry: str
    volume: float
    price: float
    profit: float
    commission: float
    swap: float
    magic: int
    comment: str
    time: str
    degraded: bool = False


class TTerminalStatus(_Camel, frozen=True, kw_only=True):
    connected: bool
    trade_allowed: bool
    server_time: str


class TSubscription(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    topic: str
    symbol: str | None = None
    timeframe: str | None = None


class _Frame(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every terminal stream frame: a tagged union on ``type``."""


class TickFrame(_Frame, tag="tick", frozen=True, kw_only=True):
    symbol: str
    data: TQuote


class BarFrame(_Frame, tag="bar", frozen=True, kw_only=True):
    symbol: str
    timeframe: str
    data: TCandle


class AccountFrame(_Frame, tag="account", frozen=True, kw_only=True):
    data: TAccountSummary


class PositionsFrame(_Frame, tag="positions", frozen=True, kw_only=True):
    data: list[TOpenedOrder]


class TradeFrame(_Frame, tag="trade", frozen=True, kw_only=True):
    data: TTradeEvent


class TerminalFrame(_Frame, tag="terminal", frozen=True, kw_only=True):
    data: TTerminalStatus


class WarningFrame(_Frame, tag="warning", frozen=True, kw_only=True):
    dropped: int


class SubscribedFrame(_Frame, tag="subscribed", frozen=True, kw_only=True):
    topic: str
    message: str


class UnsubscribedFrame(_Frame, tag="unsubscribed", frozen=True, kw_only=True):
    topic: str
    message: str


class ErrorFrame(_Frame, tag="error", frozen=True, kw_only=True):
    topic: str
    message: str


class SubscriptionsFrame(_Frame, tag="subscriptions", frozen=True, kw_only=True):
    data: list[TSubscription]
