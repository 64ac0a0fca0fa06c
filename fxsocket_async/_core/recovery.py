"""What consumers were told about an account, and how a gap is reconciled.

``OrderBook`` is a state machine fed with every per-account event before it
is delivered: an event that changes nothing it already knows (an order opened
twice, closed twice, a status repeated by the watcher and the stream) is a
duplicate and is not delivered. That one rule makes recovery safe: events
rebuilt from a REST snapshot and live events that overlap them pass through
the same book, so nothing is delivered twice.

``reconcile`` compares the book with a REST snapshot (open positions, pending
orders, history closed since the book's watermark, the summary) and returns
the events that must have happened meanwhile, flagged ``recovered``. It does
no I/O.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .events import (
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
)
from .models import MARKET_ORDER_TYPES, AccountSummary, OrderReply, Position, Trade

__all__ = ["BookOrder", "OrderBook", "Snapshot", "reconcile"]

FINISHED_MEMORY: Final = 100_000
_VOLUME_EPSILON: Final = 1e-9


@dataclass(slots=True)
class BookOrder:
    """One open or pending order as the book knows it (``OrderBook.orders`` by id)."""

    symbol: str
    type: str
    volume: float
    price: float
    sl: float | None
    tp: float | None
    filled: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The REST view of one account after a gap."""

    positions: list[Position]
    pending: list[OrderReply]
    history: list[Trade]
    summary: AccountSummary | None = None
    status: AccountStatusData | None = None


class OrderBook:
    """Open and pending orders of one account, as its consumers know them."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.orders: dict[str, BookOrder] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self.figures: AccountUpdateData | None = None
        self.status: AccountStatusData | None = None
        self.last_seq: int | None = None
        #: The latest ``closed_at`` the book has seen in history (broker time).
        self.watermark: datetime | None = None

    def is_finished(self, order_id: str) -> bool:
        return order_id in self._finished

    def finished_ids(self, newest: int) -> list[str]:
        """The ``newest`` ids of orders the book saw end, oldest first (to save it)."""
        return list(self._finished)[-newest:] if newest > 0 else []

    def restore_finished(self, order_ids: Sequence[str]) -> None:
        """Remember ``order_ids`` as ended (from a saved book), oldest first."""
        self._finished = OrderedDict.fromkeys(order_ids)

    def _finish(self, order_id: str) -> None:
        self.orders.pop(order_id, None)
        self._finished[order_id] = None
        if len(self._finished) > FINISHED_MEMORY:
            self._finished.popitem(last=False)

    def seed(self, snapshot: Snapshot, held: Sequence[Any] = ()) -> None:
        """Start from a REST snapshot without delivering anything.

        ``held`` are live events received since subscribing; the snapshot may
        already show their effects, so the book is set to the state *before*
        them, and delivering them afterwards is not mistaken for a duplicate.
        """
        later = held_effects(held)
        for p in snapshot.positions:
            effects = later.get(p.id, set())
            if OrderOpened in effects:
                continue
            order = BookOrder(p.symbol, p.type, p.volume, p.open_price, p.sl, p.tp, True)
            self.orders[p.id] = _before(order, effects)
        for o in snapshot.pending:
            effects = later.get(o.id, set())
            if OrderOpened in effects:
                continue
            order = BookOrder(o.symbol, o.type, o.volume, o.price, o.sl, o.tp, False)
            self.orders[o.id] = _before(order, effects)
        self.status = snapshot.status
        self.advance(snapshot.history, held)

    def advance(self, history: list[Trade], held: Sequence[Any] = ()) -> None:
        """Remember history's closed trades as finished and move the watermark.

        Orders that ``held`` live events will still report are left alone.
        """
        pending_live = held_effects(held)
        for trade in history:
            if trade.id not in self.orders and trade.id not in pending_live:
                self._finished[trade.id] = None
            if trade.closed_at is not None and (
                self.watermark is None or trade.closed_at > self.watermark
            ):
                self.watermark = trade.closed_at

    def apply(self, event: Any) -> bool:
        """Record ``event``; ``False`` when it tells nothing new (a duplicate)."""
        match event:
            case OrderOpened(data=d):
                if d.id in self.orders or d.id in self._finished:
                    return False
                filled = d.type in MARKET_ORDER_TYPES
                self.orders[d.id] = BookOrder(
                    d.symbol, d.type, d.volume, d.price, d.sl, d.tp, filled
                )
                return True
            case OrderFilled(data=d):
                order = self.orders.get(d.id)
                if order is None:
                    return d.id not in self._finished
                if order.filled:
                    return False
                order.filled, order.price = True, d.price
                return True
            case OrderModified(data=d):
                order = self.orders.get(d.id)
                if order is None:
                    return d.id not in self._finished
                price = order.price if d.price is None else d.price
                if (order.sl, order.tp, order.price) == (d.sl, d.tp, price):
                    return False
                order.sl, order.tp, order.price = d.sl, d.tp, price
                return True
            case OrderPartiallyClosed(data=d):
                order = self.orders.get(d.id)
                if order is None:
                    return d.id not in self._finished
                if order.volume <= d.remaining + _VOLUME_EPSILON:
                    return False  # this close is already counted
                order.volume = d.remaining
                return True
            case OrderClosed(data=d) | OrderCancelled(data=d):
                if d.id in self._finished:
                    return False
                self._finish(d.id)
                return True
            case AccountUpdate(data=d):
                if d == self.figures:
                    return False
                self.figures = d
                return True
            case AccountStatusChanged(data=d):
                if self.status is not None and (d.status, d.error) == (
                    self.status.status,
                    self.status.error,
                ):
                    return False
                self.status = d
                return True
        return True


def held_effects(held: Sequence[Any]) -> dict[str, set[type]]:
    """Which kinds of order event the held live events carry, per order id."""
    effects: dict[str, set[type]] = {}
    for event in held:
        data = getattr(event, "data", None)
        order_id = getattr(data, "id", None)
        if isinstance(order_id, str):
            effects.setdefault(order_id, set()).add(type(event))
    return effects


def _before(order: BookOrder, effects: set[type]) -> BookOrder:
    # The state an order had before held live events changed it.
    if OrderFilled in effects:
        order.filled = False
    if OrderModified in effects:
        order.sl = order.tp = math.nan  # NaN equals nothing: the live modify is new
    return order


def reconcile(
    book: OrderBook, snapshot: Snapshot, held: Sequence[Any] = (), *, recovered: bool = True
) -> list[AccountEvent]:
    """The events that explain how ``book`` became ``snapshot``, flagged ``recovered``.

    The snapshot was taken after the ``held`` live events; what they will
    report themselves is left to them (they are delivered next, live), so a
    live event is never replaced by a recovered copy.

    With ``recovered=False`` the snapshot is a live one (a dialect that
    streams the account's open orders instead of numbered events): the same
    comparison yields the live events, and a position that has gone is left
    to the deal that closed it.

    Order: orders first seen (opened), then fills, changes and partial closes
    of known orders, then closes and cancels, then balance and status.
    """
    account = book.account_id
    positions = {p.id: p for p in snapshot.positions}
    pending = {o.id: o for o in snapshot.pending}
    history = {t.id: t for t in snapshot.history if not book.is_finished(t.id)}
    opened: list[AccountEvent] = []
    changed: list[AccountEvent] = []
    finished: list[AccountEvent] = []

    def opened_event(order_id: str, symbol: str, kind: str, volume: float, price: float,
                     sl: float | None, tp: float | None) -> OrderOpened:  # fmt: skip
        data = OrderOpenedData(
            id=order_id, symbol=symbol, type=kind, volume=volume, price=price, sl=sl, tp=tp
        )
        return OrderOpened(account_id=account, data=data, recovered=recovered)

    def closed_event(trade: Trade) -> AccountEvent:
        if trade.status == "cancelled":
            return cancelled_event(trade.id)
        data = OrderClosedData(
            id=trade.id, close_price=trade.close_price or 0.0, profit=trade.profit
        )
        return OrderClosed(account_id=account, data=data, recovered=recovered)

    def cancelled_event(order_id: str) -> OrderCancelled:
        data = OrderCancelledData(id=order_id)
        return OrderCancelled(account_id=account, data=data, recovered=recovered)

    def filled_event(order_id: str, price: float) -> OrderFilled:
        data = OrderFilledData(id=order_id, price=price)
        return OrderFilled(account_id=account, data=data, recovered=recovered)

    def modified_event(
        order_id: str, sl: float | None, tp: float | None, price: float | None
    ) -> OrderModified:
        data = OrderModifiedData(id=order_id, sl=sl, tp=tp, price=price)
        return OrderModified(account_id=account, data=data, recovered=recovered)

    def reduced_event(order_id: str, closed: float, remaining: float) -> OrderPartiallyClosed:
        data = OrderPartiallyClosedData(id=order_id, volume=closed, remaining=remaining)
        return OrderPartiallyClosed(account_id=account, data=data, recovered=recovered)

    for o in snapshot.pending:
        if o.id not in book.orders:
            opened.append(opened_event(o.id, o.symbol, o.type, o.volume, o.price, o.sl, o.tp))
    for p in snapshot.positions:
        if p.id not in book.orders:
            opened.append(opened_event(p.id, p.symbol, p.type, p.volume, p.open_price, p.sl, p.tp))

    for order_id, known in book.orders.items():
        if order_id in pending:
            o = pending[order_id]
            if (known.sl, known.tp, known.price) != (o.sl, o.tp, o.price):
                changed.append(modified_event(order_id, o.sl, o.tp, o.price))
        elif order_id in positions:
            p = positions[order_id]
            if not known.filled:
                changed.append(filled_event(order_id, p.open_price))
            if (known.sl, known.tp) != (p.sl, p.tp):
                changed.append(modified_event(order_id, p.sl, p.tp, p.open_price))
            if p.volume < known.volume - _VOLUME_EPSILON:
                changed.append(reduced_event(order_id, known.volume - p.volume, p.volume))
        elif order_id in history:
            trade = history[order_id]
            if trade.status != "cancelled" and not known.filled:
                changed.append(filled_event(order_id, trade.open_price or known.price))
            finished.append(closed_event(trade))
        elif not known.filled:
            # A pending order that has gone without a trace: a dialect whose history
            # lists deals only (the terminal's) shows a cancel no other way.
            finished.append(cancelled_event(order_id))

    # Opened and finished entirely within the gap.
    for trade in snapshot.history:
        if trade.id in history and trade.id not in book.orders:
            opened.append(
                opened_event(
                    trade.id, trade.symbol, trade.type, trade.volume,
                    trade.open_price or 0.0, None, None,
                )
            )  # fmt: skip
            finished.append(closed_event(trade))

    later = held_effects(held)
    events = [
        e
        for e in opened + changed + finished
        if not ({OrderOpened, type(e)} & later.get(_order_id(e), set()))
    ]
    held_kinds = {type(e) for e in held}
    if snapshot.summary is not None and AccountUpdate not in held_kinds:
        s = snapshot.summary
        figures = AccountUpdateData(
            balance=s.balance,
            equity=s.equity,
            margin=s.margin,
            free_margin=s.free_margin,
            currency=s.currency,
        )
        if figures != book.figures:
            events.append(AccountUpdate(account_id=account, data=figures, recovered=True))
    if (
        snapshot.status is not None
        and AccountStatusChanged not in held_kinds
        and (
            book.status is None
            or (book.status.status, book.status.error)
            != (snapshot.status.status, snapshot.status.error)
        )
    ):
        events.append(
            AccountStatusChanged(account_id=account, data=snapshot.status, recovered=True)
        )
    return events


def _order_id(event: AccountEvent) -> str:
    return str(getattr(event.data, "id", ""))
