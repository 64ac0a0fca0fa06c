"""The broker's state: one record per account, order and deal, and the seams to the outside.

Plain data shared by the accounts, money, orders and lifecycle modules; the
rules that change it live there. ``Schedule`` (a timer), ``Publish`` (hands a
per-account event frame to the reference stream hub) and ``Observe`` (hands
every per-account event and deal to the terminal side) are the only ways out.

Tickets: every order gets an integer ticket from one simulator-wide counter,
and its reference-dialect id is ``ord_<ticket>`` (``order_id``), so both
dialects name the same order. Deals have tickets of their own.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .._core.events import AccountEvent, AccountUpdateData
from .._core.models import OrderReply, Trade

__all__ = [
    "FIRST_DEAL_TICKET",
    "FIRST_ORDER_TICKET",
    "LEDGER_LIMIT",
    "AccountRecord",
    "Cancel",
    "DealRecord",
    "Observe",
    "OrderRecord",
    "Publish",
    "Schedule",
    "Tickets",
    "order_id",
    "ticket_of",
]

LEDGER_LIMIT = 100_000
#: Ten digits, so that ``ord_<ticket>`` keeps the reference ids' ten characters.
FIRST_ORDER_TICKET = 1_000_000_001
FIRST_DEAL_TICKET = 2_000_000_001
_ORDER_PREFIX = "ord_"


class Cancel(Protocol):
    def cancel(self) -> None: ...


Schedule = Callable[[float, Callable[[], None]], Cancel]
Publish = Callable[[str, str, bytes], None]


def order_id(ticket: int) -> str:
    """The reference dialect's id of the order with ``ticket``."""
    return f"{_ORDER_PREFIX}{ticket}"


def ticket_of(reference_id: str) -> int | None:
    """The ticket behind a reference id, ``None`` if it is not one of ours."""
    digits = reference_id.removeprefix(_ORDER_PREFIX)
    if digits == reference_id or not digits.isdigit():
        return None
    return int(digits)


class Tickets:
    """The simulator's ticket counters: one for orders, one for deals."""

    def __init__(self) -> None:
        self._orders = itertools.count(FIRST_ORDER_TICKET)
        self._deals = itertools.count(FIRST_DEAL_TICKET)

    def order(self) -> int:
        return next(self._orders)

    def deal(self) -> int:
        return next(self._deals)


@dataclass(slots=True)
class OrderRecord:
    """A pending order or, once filled, a position (same ticket and id, as MT5 tickets)."""

    ticket: int
    symbol: str
    type: str  # the order type now: a stop-limit order becomes a limit order when triggered
    volume: float  # lots now: a partial close lowers it
    price: float  # pending price, or open price once filled
    sl: float | None
    tp: float | None
    comment: str
    placed_at: datetime
    filled_at: datetime | None = None
    magic: int = 0
    expiration: datetime | None = None
    stop_limit: float | None = None  # the limit price of a *_STOP_LIMIT order

    @property
    def id(self) -> str:
        return order_id(self.ticket)

    @property
    def is_buy(self) -> bool:
        return self.type.startswith("BUY")

    @property
    def direction(self) -> str:
        return "BUY" if self.is_buy else "SELL"

    def reply(self) -> OrderReply:
        return OrderReply(
            id=self.id,
            symbol=self.symbol,
            type=self.type,
            volume=self.volume,
            price=self.price,
            sl=self.sl,
            tp=self.tp,
            status="pending" if self.filled_at is None else "filled",
            comment=self.comment,
        )


@dataclass(frozen=True, slots=True)
class DealRecord:
    """One deal: ``In`` when a position opens, ``Out`` when (part of) it closes."""

    ticket: int
    order: int  # the order that made the deal (a close has an order of its own)
    position: int  # the position's ticket
    symbol: str
    type: str  # the deal's direction: "BUY" or "SELL" (an Out deal of a BUY is a SELL)
    entry: str  # "In" or "Out"
    volume: float
    price: float
    profit: float
    commission: float
    swap: float
    magic: int
    comment: str
    time: datetime


class Observe(Protocol):
    """Told of every per-account event (after it is published) and of every deal."""

    def __call__(self, account: AccountRecord, event: AccountEvent | DealRecord) -> None: ...


@dataclass(slots=True)
class AccountRecord:
    id: str
    owner: str
    server: str
    login: int
    password: str = field(repr=False)
    nickname: str
    created_at: datetime
    balance: float
    platform: str = "mt5"
    status: str = "connecting"
    error: str = ""
    #: The terminal came up once: from then on the account has a rest_url and ws_url.
    terminal_up: bool = False
    #: Accepted at link time and shown back (the simulator models none of them).
    trade_ea_symbol: str = ""
    proxy_address: str = ""
    proxy_type: str = ""
    proxy_local_port: int | None = None
    seq: int = 0
    orders: dict[str, OrderRecord] = field(default_factory=dict)  # pending and open, by id
    history: list[Trade] = field(default_factory=list)
    deals: list[DealRecord] = field(default_factory=list)
    idempotency: dict[str, tuple[bytes, datetime, OrderReply]] = field(default_factory=dict)
    ledger: deque[AccountEvent] = field(default_factory=lambda: deque(maxlen=LEDGER_LIMIT))
    last_account_event: float = -math.inf
    last_account_data: AccountUpdateData | None = None
    provisioning: Cancel | None = None
    trailing_update: Cancel | None = None

    @property
    def broker(self) -> str:
        """The server name up to its last '-' (the simulator's guess at the broker)."""
        return self.server.rsplit("-", 1)[0]

    def order(self, ticket: int) -> OrderRecord | None:
        """The open position or pending order with ``ticket``."""
        return self.orders.get(order_id(ticket))
