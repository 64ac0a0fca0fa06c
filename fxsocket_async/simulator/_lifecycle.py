"""What happens to an order after it is placed: fills, closes, cancels, and price moves.

A pending order rests until the price crosses it and then becomes a position
with the same ticket; a ``*_STOP_LIMIT`` order that triggers becomes a limit
order at its stop-limit price (same ticket); a pending order past its
expiration is cancelled. A position closes, wholly or in part, at the market
or when its SL or TP is touched. Every change is emitted through
``Accounts.emit``, and every fill and close books a deal through
``Accounts.record_deal``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from .._core.events import (
    OrderCancelled,
    OrderCancelledData,
    OrderClosed,
    OrderClosedData,
    OrderFilled,
    OrderFilledData,
    OrderModified,
    OrderModifiedData,
    OrderPartiallyClosed,
    OrderPartiallyClosedData,
)
from .._core.models import Quote, Trade
from ._accounts import Accounts
from ._checks import stopped_out, triggered
from ._config import SimulatorConfig
from ._errors import SimError
from ._money import Money, close_price, money
from ._records import AccountRecord, DealRecord, OrderRecord, Tickets

__all__ = ["VOLUME_EPSILON", "Closed", "Lifecycle"]

VOLUME_EPSILON = 1e-9


class Closed:
    """What closing (part of) a position did."""

    __slots__ = ("deal", "price", "profit", "remaining")

    def __init__(self, price: float, profit: float, remaining: float, deal: DealRecord) -> None:
        self.price = price
        self.profit = profit
        self.remaining = remaining
        self.deal = deal


class Lifecycle:
    """Fills, closes and cancels, and the reactions to new prices."""

    def __init__(
        self,
        config: SimulatorConfig,
        accounts: Accounts,
        money_: Money,
        tickets: Tickets,
        *,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
    ) -> None:
        self.config = config
        self._accounts = accounts
        self._money = money_
        self._market = money_.market
        self._tickets = tickets
        self._now = now
        self._monotonic = monotonic

    # --------------------------------------------------------------- deals

    def open_deal(self, account: AccountRecord, order: OrderRecord) -> DealRecord:
        """Book the ``In`` deal of a position that just opened (or of a filled order)."""
        assert order.filled_at is not None
        deal = DealRecord(
            ticket=self._tickets.deal(),
            order=order.ticket,
            position=order.ticket,
            symbol=order.symbol,
            type=order.direction,
            entry="In",
            volume=order.volume,
            price=order.price,
            profit=0.0,
            commission=0.0,
            swap=0.0,
            magic=order.magic,
            comment=order.comment,
            time=order.filled_at,
        )
        self._accounts.record_deal(account, deal)
        return deal

    # ------------------------------------------------------------- closing

    def close(
        self,
        account: AccountRecord,
        order: OrderRecord,
        quote: Quote,
        volume: float | None = None,
        *,
        reason: str = "",
    ) -> Closed:
        """Close ``volume`` lots (default: all) of a position at the market.

        Books the closed part into history (a trade of its own, with the
        position's id) and as an ``Out`` deal; the profit, commission and swap
        of that part go to the balance. A partial close leaves the position
        open with the rest (``order_partially_closed``); a full one removes it
        (``order_closed``). ``reason`` (``sl`` or ``tp``) marks a stop's deal.
        """
        now = self._now()
        lots = order.volume if volume is None else volume
        full = lots >= order.volume - VOLUME_EPSILON
        if full:
            lots = order.volume
        price = close_price(order, quote)
        profit = self._money.profit(order, price, lots)
        commission = money(-self.config.commission_per_lot * lots)
        swap = self._money.swap(order, now, lots)
        account.balance += profit + commission + swap
        account.history.append(
            Trade(
                id=order.id,
                symbol=order.symbol,
                type=order.direction,
                volume=lots,
                open_price=order.price,
                close_price=price,
                profit=profit,
                commission=commission,
                swap=swap,
                opened_at=order.filled_at,
                closed_at=now,
            )
        )
        remaining = 0.0 if full else round(order.volume - lots, 2)
        if full:
            del account.orders[order.id]
            self._accounts.emit(
                account,
                OrderClosed,
                OrderClosedData(id=order.id, close_price=price, profit=profit),
            )
        else:
            order.volume = remaining
            self._accounts.emit(
                account,
                OrderPartiallyClosed,
                OrderPartiallyClosedData(
                    id=order.id, volume=lots, remaining=remaining, close_price=price, profit=profit
                ),
            )
        deal = self._close_deal(account, order, lots, price, (profit, commission, swap), reason)
        self._accounts.emit_account_update(account, force=True)
        return Closed(price, profit, remaining, deal)

    def _close_deal(
        self,
        account: AccountRecord,
        order: OrderRecord,
        lots: float,
        price: float,
        amounts: tuple[float, float, float],
        reason: str,
    ) -> DealRecord:
        profit, commission, swap = amounts
        # MT5: an exit deal carries no magic and no comment unless the closing
        # request set them; a stop's exit says which stop. MT4 keeps the order's.
        if account.platform == "mt4":
            magic, comment = order.magic, order.comment
        else:
            magic = 0
            stop_price = order.sl if reason == "sl" else order.tp
            comment = f"[{reason} {stop_price}]" if reason and stop_price is not None else ""
        deal = DealRecord(
            ticket=self._tickets.deal(),
            order=self._tickets.order(),  # the closing order
            position=order.ticket,
            symbol=order.symbol,
            type="SELL" if order.is_buy else "BUY",
            entry="Out",
            volume=lots,
            price=price,
            profit=profit,
            commission=commission,
            swap=swap,
            magic=magic,
            comment=comment,
            time=self._now(),
        )
        self._accounts.record_deal(account, deal)
        return deal

    def cancel(self, account: AccountRecord, order: OrderRecord) -> None:
        """Cancel (delete) a pending order; it goes to history as ``cancelled``."""
        del account.orders[order.id]
        account.history.append(
            Trade(
                id=order.id,
                symbol=order.symbol,
                type=order.type,
                volume=order.volume,
                open_price=order.price,
                opened_at=order.placed_at,
                closed_at=self._now(),
                status="cancelled",
            )
        )
        self._accounts.emit(account, OrderCancelled, OrderCancelledData(id=order.id))

    # ---------------------------------------------------------- price moves

    def on_quotes(self, quotes: Iterable[Quote]) -> None:
        """React to new prices: expire, trigger and fill pending orders, hit SL and TP;
        move equity."""
        moved = {q.symbol: q for q in quotes}
        if not moved:
            return
        now_mono = self._monotonic()
        now = self._now()
        for account in self._accounts:
            if account.status != "connected":
                continue
            touched = False
            for order in list(account.orders.values()):
                expired = order.expiration is not None and now >= order.expiration
                if expired and order.filled_at is None:
                    self.cancel(account, order)
                    continue
                quote = moved.get(order.symbol)
                if quote is None:
                    continue
                touched = True
                self._react(account, order, quote)
            if touched:
                self._accounts.throttled_account_update(account, now_mono)

    def _react(self, account: AccountRecord, order: OrderRecord, quote: Quote) -> None:
        if order.filled_at is not None:
            if stopped_out(order, quote):
                hit_sl = order.sl is not None and (
                    quote.bid <= order.sl if order.is_buy else quote.ask >= order.sl
                )
                self.close(account, order, quote, reason="sl" if hit_sl else "tp")
            return
        if not triggered(order, quote):
            return
        if order.stop_limit is not None:
            # A stop-limit order's stop is crossed: it becomes a limit order.
            order.type = order.type.removesuffix("_STOP_LIMIT") + "_LIMIT"
            order.price, order.stop_limit = order.stop_limit, None
            self._accounts.emit(
                account,
                OrderModified,
                OrderModifiedData(id=order.id, sl=order.sl, tp=order.tp, price=order.price),
            )
            if not triggered(order, quote):
                return
        self.fill(account, order)

    def fill(self, account: AccountRecord, order: OrderRecord) -> None:
        """A triggered pending order becomes a position at its price."""
        # A pending order the free margin cannot carry when it triggers is
        # cancelled, as a broker does, rather than left to trigger again.
        try:
            self._money.require_margin(account, order)
        except SimError:
            self.cancel(account, order)
            return
        order.filled_at = self._now()
        self._accounts.emit(account, OrderFilled, OrderFilledData(id=order.id, price=order.price))
        self.open_deal(account, order)
        self._accounts.emit_account_update(account, force=True)
