"""The broker's state: one record per account and per order, and the seams to the outside.

Plain data shared by the accounts, money and orders modules; the rules that
change it live there. ``Schedule`` (a timer) and ``Publish`` (hands a
per-account event frame to the stream hub) are the only ways out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .._core.events import AccountEvent, AccountUpdateData
from .._core.models import Account, OrderReply, Trade

__all__ = ["LEDGER_LIMIT", "AccountRecord", "Cancel", "OrderRecord", "Publish", "Schedule"]

LEDGER_LIMIT = 100_000


class Cancel(Protocol):
    def cancel(self) -> None: ...


Schedule = Callable[[float, Callable[[], None]], Cancel]
Publish = Callable[[str, str, bytes], None]


@dataclass(slots=True)
class OrderRecord:
    """A pending order or, once filled, a position (same id, as MT5 tickets)."""

    id: str
    symbol: str
    type: str  # the order type as placed
    volume: float
    price: float  # pending price, or open price once filled
    sl: float | None
    tp: float | None
    comment: str
    placed_at: datetime
    filled_at: datetime | None = None

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
    status: str = "connecting"
    error: str = ""
    seq: int = 0
    orders: dict[str, OrderRecord] = field(default_factory=dict)  # pending and open, by id
    history: list[Trade] = field(default_factory=list)
    idempotency: dict[str, tuple[bytes, datetime, OrderReply]] = field(default_factory=dict)
    ledger: deque[AccountEvent] = field(default_factory=lambda: deque(maxlen=LEDGER_LIMIT))
    last_account_event: float = -math.inf
    last_account_data: AccountUpdateData | None = None
    provisioning: Cancel | None = None
    trailing_update: Cancel | None = None

    def public(self) -> Account:
        return Account(
            id=self.id,
            nickname=self.nickname,
            platform="mt5",
            server=self.server,
            login=self.login,
            status=self.status,
            error=self.error,
            created_at=self.created_at,
            broker=self.server.rsplit("-", 1)[0],
        )
