"""Orders: placing, modifying, closing and cancelling, and reacting to prices.

A pending order rests until the price crosses it and then becomes a position
with the same id; a position closes at the market or when its SL or TP is
touched. Every change is emitted through ``Accounts.emit``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from .._core.events import (
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
)
from .._core.models import (
    MARKET_ORDER_TYPES,
    ORDER_TYPES,
    CloseOrderReply,
    CreateOrderRequest,
    ModifyOrderReply,
    OrderReply,
    Quote,
    Trade,
)
from ._accounts import Accounts
from ._checks import (
    check_pending_price,
    check_stops,
    check_volume,
    fingerprint,
    number,
    stop,
    stopped_out,
    triggered,
)
from ._config import SimulatorConfig
from ._errors import SimError
from ._money import Money, close_price, money
from ._records import AccountRecord, OrderRecord
from ._symbols import SymbolSpec

__all__ = ["IDEMPOTENCY_TTL", "Orders"]

IDEMPOTENCY_TTL = timedelta(minutes=15)
_ID_ALPHABET = string.ascii_letters + string.digits


class Orders:
    """The trading rules of the simulated broker. See docs/simulator.md."""

    def __init__(
        self,
        config: SimulatorConfig,
        accounts: Accounts,
        money: Money,
        ids: random.Random,
        *,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
    ) -> None:
        self.config = config
        self._accounts = accounts
        self._money = money
        self._market = money.market
        self._ids = ids
        self._now = now
        self._monotonic = monotonic

    # -------------------------------------------------------------- placing

    def create_order(
        self,
        account: AccountRecord,
        request: CreateOrderRequest,
        idempotency_key: str | None = None,
    ) -> tuple[OrderReply, bool]:
        """Place an order; returns the reply and whether it was an idempotent replay.

        Raises ``SimError``: 409 ``idempotency_conflict`` for a key used with
        another body; 400 ``invalid_symbol``, ``invalid_type``,
        ``invalid_volume``, ``invalid_price``, ``invalid_stops`` or
        ``not_enough_money`` for an order the broker refuses.
        """
        if idempotency_key is not None:
            replay = self._idempotent_replay(account, request, idempotency_key)
            if replay is not None:
                return replay, True
        reply = self._place(account, request)
        if idempotency_key is not None:
            account.idempotency[idempotency_key] = (
                fingerprint(request),
                self._now() + IDEMPOTENCY_TTL,
                reply,
            )
        return reply, False

    def _idempotent_replay(
        self, account: AccountRecord, request: CreateOrderRequest, key: str
    ) -> OrderReply | None:
        now = self._now()
        for stale in [k for k, (_, expires, _) in account.idempotency.items() if expires <= now]:
            del account.idempotency[stale]
        stored = account.idempotency.get(key)
        if stored is None:
            return None
        stored_fingerprint, _, reply = stored
        if stored_fingerprint != fingerprint(request):
            raise SimError(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was used with a different request body; use a new key",
            )
        return reply

    def _place(self, account: AccountRecord, request: CreateOrderRequest) -> OrderReply:
        spec = self._spec_for_order(request.symbol)
        if request.type not in ORDER_TYPES:
            raise SimError(
                400,
                "invalid_type",
                f"unknown order type {request.type!r}; use one of {', '.join(ORDER_TYPES)}",
            )
        check_volume(request.volume)
        quote = self._market.quote(spec.name)
        is_buy = request.type.startswith("BUY")
        if request.type in MARKET_ORDER_TYPES:
            if request.price is not None:
                raise SimError(
                    400,
                    "invalid_price",
                    "price is not accepted for market orders: they fill at the market",
                )
            entry = quote.ask if is_buy else quote.bid
        else:
            entry = check_pending_price(request.type, request.price, quote)
        sl = stop(request.sl, "sl")
        tp = stop(request.tp, "tp")
        check_stops(is_buy, entry, sl, tp)
        now = self._now()
        order = OrderRecord(
            id=self._new_order_id(),
            symbol=spec.name,
            type=request.type,
            volume=request.volume,
            price=spec.round(entry),
            sl=sl,
            tp=tp,
            comment=request.comment or "",
            placed_at=now,
        )
        if request.type in MARKET_ORDER_TYPES:
            self._money.require_margin(account, order)
            order.filled_at = now
        account.orders[order.id] = order
        self._accounts.emit(
            account,
            OrderOpened,
            OrderOpenedData(
                id=order.id,
                symbol=order.symbol,
                type=order.type,
                volume=order.volume,
                price=order.price,
                sl=order.sl,
                tp=order.tp,
            ),
        )
        if order.filled_at is not None:
            self._accounts.emit_account_update(account, force=True)
        return order.reply()

    def _spec_for_order(self, symbol: str) -> SymbolSpec:
        # An unknown symbol in an order body is a bad request, not a missing resource.
        try:
            return self._money.spec(symbol)
        except SimError as exc:
            raise SimError(400, exc.code, exc.message) from None

    def _new_order_id(self) -> str:
        return "ord_" + "".join(self._ids.choices(_ID_ALPHABET, k=10))

    # ------------------------------------------------------------- changing

    def pending_orders(self, account: AccountRecord) -> list[OrderReply]:
        return [o.reply() for o in account.orders.values() if o.filled_at is None]

    def modify_order(
        self, account: AccountRecord, order_id: str, body: dict[str, Any]
    ) -> ModifyOrderReply:
        """Change SL, TP or a pending price. ``0`` removes an SL or TP; absent keeps it.

        Raises ``SimError``: 400 ``immutable_field`` for symbol, type or
        volume, ``invalid_request`` for unknown, mistyped or no fields,
        ``invalid_price`` or ``invalid_stops``; 404 ``order_not_found``.
        """
        immutable = sorted({"symbol", "type", "volume"} & body.keys())
        if immutable:
            raise SimError(
                400,
                "immutable_field",
                f"{', '.join(immutable)} cannot change; close the order and place a new one",
            )
        unknown = sorted(body.keys() - {"sl", "tp", "price"})
        if unknown:
            raise SimError(400, "invalid_request", f"unknown fields: {', '.join(unknown)}")
        if all(body.get(k) is None for k in ("sl", "tp", "price")):
            raise SimError(400, "invalid_request", "give at least one of sl, tp, price")
        order = self._order(account, order_id)
        spec = self._money.spec(order.symbol)
        market = self._market
        price = order.price
        if body.get("price") is not None:
            if order.filled_at is not None:
                raise SimError(400, "invalid_price", "the price of a filled position cannot change")
            price = check_pending_price(
                order.type, number(body["price"], "price"), market.quote(order.symbol)
            )
            price = spec.round(price)
        sl = order.sl if body.get("sl") is None else stop(number(body["sl"], "sl"), "sl")
        tp = order.tp if body.get("tp") is None else stop(number(body["tp"], "tp"), "tp")
        if order.filled_at is None:
            check_stops(order.is_buy, price, sl, tp)
        else:
            check_stops(order.is_buy, close_price(order, market.quote(order.symbol)), sl, tp)
        changed = (sl, tp, price) != (order.sl, order.tp, order.price)
        order.sl, order.tp, order.price = sl, tp, price
        if changed:
            self._accounts.emit(
                account,
                OrderModified,
                OrderModifiedData(id=order.id, sl=sl, tp=tp, price=price),
            )
        return ModifyOrderReply(id=order.id, sl=sl, tp=tp, price=price, updated=changed)

    def close_order(self, account: AccountRecord, order_id: str) -> CloseOrderReply:
        """Close a position at the market, or cancel a pending order.

        Raises ``SimError`` 404 ``order_not_found``.
        """
        order = self._order(account, order_id)
        if order.filled_at is None:
            self._cancel(account, order)
            return CloseOrderReply(id=order.id, status="cancelled", close_price=None, profit=0.0)
        price, profit = self._close(account, order, self._market.quote(order.symbol))
        return CloseOrderReply(id=order.id, status="closed", close_price=price, profit=profit)

    def _order(self, account: AccountRecord, order_id: str) -> OrderRecord:
        order = account.orders.get(order_id)
        if order is None:
            raise SimError(
                404, "order_not_found", f"no open position or pending order {order_id!r}"
            )
        return order

    def _cancel(self, account: AccountRecord, order: OrderRecord) -> None:
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

    def _close(
        self, account: AccountRecord, order: OrderRecord, quote: Quote
    ) -> tuple[float, float]:
        now = self._now()
        price = close_price(order, quote)
        profit = self._money.profit(order, price)
        commission = money(-self.config.commission_per_lot * order.volume)
        swap = self._money.swap(order, now)
        del account.orders[order.id]
        account.balance += profit + commission + swap
        account.history.append(
            Trade(
                id=order.id,
                symbol=order.symbol,
                type=order.direction,
                volume=order.volume,
                open_price=order.price,
                close_price=price,
                profit=profit,
                commission=commission,
                swap=swap,
                opened_at=order.filled_at,
                closed_at=now,
            )
        )
        self._accounts.emit(
            account,
            OrderClosed,
            OrderClosedData(id=order.id, close_price=price, profit=profit),
        )
        self._accounts.emit_account_update(account, force=True)
        return price, profit

    # ---------------------------------------------------------- price moves

    def on_quotes(self, quotes: Iterable[Quote]) -> None:
        """React to new prices: trigger pending orders, SL and TP; move equity."""
        moved = {q.symbol: q for q in quotes}
        if not moved:
            return
        now_mono = self._monotonic()
        for account in self._accounts:
            if account.status != "connected":
                continue
            touched = False
            for order in list(account.orders.values()):
                quote = moved.get(order.symbol)
                if quote is None:
                    continue
                touched = True
                if order.filled_at is None:
                    if triggered(order, quote):
                        self._fill(account, order)
                elif stopped_out(order, quote):
                    self._close(account, order, quote)
            if touched:
                self._accounts.throttled_account_update(account, now_mono)

    def _fill(self, account: AccountRecord, order: OrderRecord) -> None:
        # A pending order the free margin cannot carry when it triggers is
        # cancelled, as a broker does, rather than left to trigger again.
        try:
            self._money.require_margin(account, order)
        except SimError:
            self._cancel(account, order)
            return
        order.filled_at = self._now()
        self._accounts.emit(account, OrderFilled, OrderFilledData(id=order.id, price=order.price))
        self._accounts.emit_account_update(account, force=True)
