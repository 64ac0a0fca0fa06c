"""Models of what an account's own terminal adds: contract specs, calculators, health.

The terminal dialect (the per-account API the vendor's SDK speaks) writes
these in camelCase; they decode straight into these Structs (``rename="camel"``)
and keep Python names. Every field the vendor SDK marks optional or
version-dependent has a default, so older and newer terminals still decode.
"""

# No "from __future__ import annotations": the Structs' __module__ is rewritten to
# fxsocket_async.types, so msgspec must not resolve string annotations later.
from datetime import datetime

import msgspec

from .models import Candle, OrderReply, Position

__all__ = [
    "Bar",
    "CloseAllResult",
    "CloseAllSummary",
    "ClosedPosition",
    "CommissionRule",
    "CommissionTier",
    "Deal",
    "HealthChecks",
    "MarginCalc",
    "PositionsSnapshot",
    "ProfitCalc",
    "ServerTimezone",
    "SymbolInfo",
    "TerminalHealth",
    "TerminalStatus",
    "TradingSession",
]


class _Camel(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Base of the terminal's models: camelCase on the wire."""


class CommissionTier(_Camel, frozen=True, kw_only=True):
    """One tier of a commission rule: a value and the range it applies to."""

    mode: str = ""
    volume_type: str = ""
    value: float = 0.0
    min_value: float = 0.0
    max_value: float = 0.0
    range_from: float = 0.0
    range_to: float = 0.0
    currency: str = ""


class CommissionRule(_Camel, frozen=True, kw_only=True):
    """One of the broker's commission rules for a symbol (modes are MQL5 constant names)."""

    currency: str = ""
    range_mode: str = ""
    charge_mode: str = ""
    entry_mode: str = ""
    direction_mode: str = ""
    profit_mode: str = ""
    tiers: list[CommissionTier] = msgspec.field(default_factory=list)


class TradingSession(msgspec.Struct, frozen=True, kw_only=True):
    """One trading window of a symbol in broker server time (``day`` is ``MONDAY``...;
    times ``HH:MM``, ``24:00`` meaning the end of the day)."""

    day: str
    start: str = msgspec.field(name="from")
    end: str = msgspec.field(name="to")


class SymbolInfo(_Camel, frozen=True, kw_only=True):
    """A symbol's contract specification: ``fx.account(id).symbol_info(symbol)``."""

    symbol: str
    description: str = ""
    digits: int = 5
    point: float = 0.0
    tick_size: float = 0.0
    tick_value: float = 0.0
    contract_size: float = 0.0
    volume_min: float = 0.0
    volume_max: float = 0.0
    volume_step: float = 0.0
    stops_level: int = 0
    freeze_level: int = 0
    spread: int = 0
    trade_mode: str = ""
    swap_long: float = 0.0
    swap_short: float = 0.0
    bid: float = 0.0
    ask: float = 0.0
    currency_base: str = ""
    currency_profit: str = ""
    currency_margin: str = ""
    commissions: list[CommissionRule] = msgspec.field(default_factory=list)
    sessions: list[TradingSession] = msgspec.field(default_factory=list)


class ServerTimezone(_Camel, frozen=True, kw_only=True):
    """The broker server's clock: ``utc_offset_seconds`` is server time minus UTC."""

    server_time: str = ""
    utc_offset_seconds: int = 0


class MarginCalc(_Camel, frozen=True, kw_only=True):
    """The margin a hypothetical order would need: ``calc_margin(...)``."""

    symbol: str
    operation: str = ""
    volume: float = 0.0
    price: float = 0.0
    margin: float = 0.0
    currency: str = ""


class ProfitCalc(_Camel, frozen=True, kw_only=True):
    """The profit of a hypothetical trade: ``calc_profit(...)``."""

    symbol: str
    operation: str = ""
    volume: float = 0.0
    price_open: float = 0.0
    price_close: float = 0.0
    profit: float = 0.0
    currency: str = ""


class CloseAllResult(_Camel, frozen=True, kw_only=True):
    """What ``close_all`` did to one ticket (``kind``: ``position`` or ``pending``)."""

    ticket: int
    kind: str = ""
    success: bool = False
    retcode: int = 0
    retcode_description: str = ""


class CloseAllSummary(_Camel, frozen=True, kw_only=True):
    """Reply of ``orders.close_all(...)``: every matched order and its outcome."""

    requested: int = 0
    closed: int = 0
    failed: int = 0
    results: list[CloseAllResult] = msgspec.field(default_factory=list)


class Deal(_Camel, frozen=True, kw_only=True):
    """One deal of the order history: ``entry`` ``In`` (opened) or ``Out`` (closed), with the
    ``position`` it belongs to. ``time`` is broker time."""

    ticket: int
    order: int = 0
    position: int = 0
    symbol: str = ""
    type: str = ""
    entry: str = ""
    volume: float = 0.0
    price: float = 0.0
    commission: float = 0.0
    swap: float = 0.0
    profit: float = 0.0
    magic: int = 0
    comment: str = ""
    time: datetime | None = None


class ClosedPosition(_Camel, frozen=True, kw_only=True):
    """One closed round trip of the position history; times are broker time."""

    position_id: int
    symbol: str = ""
    type: str = ""
    volume: float = 0.0
    open_time: datetime | None = None
    open_price: float = 0.0
    close_time: datetime | None = None
    close_price: float = 0.0
    profit: float = 0.0
    swap: float = 0.0
    commission: float = 0.0
    net_profit: float = 0.0
    magic: int = 0
    comment: str = ""


class HealthChecks(_Camel, frozen=True, kw_only=True):
    """The terminal's probes (``/healthz``, ``/livez``): each part up or not."""

    status: str = ""
    terminal: bool = False
    broker: bool = False
    account: bool = False


class TerminalHealth(msgspec.Struct, frozen=True, kw_only=True):
    """``fx.account(id).health()``: the terminal's ``/status`` roll-up and its probes.

    ``status`` is ``ready``, ``starting``, ``degraded`` or ``down``; ``details``
    is the whole ``/status`` body as the terminal wrote it.
    """

    status: str
    ready: bool
    live: HealthChecks
    checks: HealthChecks
    details: dict[str, object] = msgspec.field(default_factory=dict)


class TerminalStatus(_Camel, frozen=True, kw_only=True):
    """The terminal's state as it streams it: ``fx.terminal_status(account=...)``."""

    connected: bool = False
    trade_allowed: bool = False
    server_time: str = ""
    account_id: str = ""


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """A bar of ``fx.bars(symbol, timeframe, account=...)``: the forming bar's state."""

    symbol: str
    timeframe: str
    candle: Candle
    account_id: str = ""


class PositionsSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Every open position and pending order of an account at one moment:
    ``fx.positions(account=...)`` (the terminal streams one on every change)."""

    account_id: str
    positions: list[Position]
    pending: list[OrderReply]
