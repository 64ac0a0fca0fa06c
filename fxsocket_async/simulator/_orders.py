"""Orders: placing, modifying, closing and cancelling.

Both dialects place through ``Orders.place`` (a ``Placement``) and change
orders through ``Orders.change``; the reference dialect's own rules (its six
order types, idempotency keys, which fields a ``PATCH`` may touch) wrap them.
What happens after placing (fills, closes, price moves) is ``_lifecycle``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .._core.events import OrderModified, OrderModifiedData, OrderOpened, OrderOpenedData
from .._core.models import (
    MARKET_ORDER_TYPES,
    ORDER_TYPES,
    CloseOrderReply,
    CreateOrderRequest,
    ModifyOrderReply,
    OrderReply,
)
from ._accounts import Accounts
from ._checks import (
    check_pending_price,
    check_stop_limit,
    check_stops,
    check_volume,
    fingerprint,
    number,
    stop,
)
from ._config import SimulatorConfig
from ._errors import SimError
from ._lifecycle import Lifecycle
from ._money import Money, close_price
from ._records import AccountRecord, OrderRecord, Tickets
from ._symbols import SymbolSpec

__all__ = ["ALL_ORDER_TYPES", "IDEMPOTENCY_TTL", "STOP_LIMIT_TYPES", "Orders", "Placement"]

IDEMPOTENCY_TTL = timedelta(minutes=15)
STOP_LIMIT_TYPES = frozenset({"BUY_STOP_LIMIT", "SELL_STOP_LIMIT"})
#: The reference dialect's six types and the terminal's two stop-limit types.
ALL_ORDER_TYPES: tuple[str, ...] = (*ORDER_TYPES, "BUY_STOP_LIMIT", "SELL_STOP_LIMIT")


@dataclass(frozen=True, slots=True)
class Placement:
    """An order to place, whichever dialect asked for it."""

    symbol: str
    type: str
    volume: float
    price: float | None = None
    sl: float | None = None
    tp: float | None = None
    comment: str = ""
    magic: int = 0
    expiration: datetime | None = None
    stop_limit: float | None = None


class Orders:
    """The trading rules of the simulated broker. See docs/simulator.md."""

    def __init__(
        self,
        config: SimulatorConfig,
        accounts: Accounts,
        money: Money,
        lifecycle: Lifecycle,
        tickets: Tickets,
        *,
        now: Callable[[], datetime],
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self._accounts = accounts
        self._money = money
        self._market = money.market
        self.lifecycle = lifecycle
        self._tickets = tickets
        self._now = now
        # Idempotency keys expire on real time even when the broker clock is a replay's.
        self._wall = wall or now

    # -------------------------------------------------------------- placing

    def create_order(
        self,
        account: AccountRecord,
        request: CreateOrderRequest,
        idempotency_key: str | None = None,
    ) -> tuple[OrderReply, bool]:
        """Place an order (the reference dialect); returns the reply and whether it
        was an idempotent replay.

        Raises ``SimError``: 409 ``idempotency_conflict`` for a key used with
        another body; 400 ``invalid_symbol``, ``invalid_type``,
        ``invalid_volume``, ``invalid_price``, ``invalid_stops`` or
        ``not_enough_money`` for an order the broker refuses.
        """
        if idempotency_key is not None:
            replay = self._idempotent_replay(account, request, idempotency_key)
            if replay is not None:
                return replay, True
        self._spec_for_order(request.symbol)
        if request.type not in ORDER_TYPES:
            raise SimError(
                400,
                "invalid_type",
                f"unknown order type {request.type!r}; use one of {', '.join(ORDER_TYPES)}",
            )
        if request.type in MARKET_ORDER_TYPES and request.price is not None:
            check_volume(request.volume)
            raise SimError(
                400,
                "invalid_price",
                "price is not accepted for market orders: they fill at the market",
            )
        placement = Placement(
            symbol=request.symbol,
            type=request.type,
            volume=request.volume,
            price=request.price,
            sl=request.sl,
            tp=request.tp,
            comment=request.comment or "",
        )
        reply = self.place(account, placement).reply()
        if idempotency_key is not None:
            account.idempotency[idempotency_key] = (
                fingerprint(request),
                self._wall() + IDEMPOTENCY_TTL,
                reply,
            )
        return reply, False

    def _idempotent_replay(
        self, account: AccountRecord, request: CreateOrderRequest, key: str
    ) -> OrderReply | None:
        now = self._wall()
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

    def place(self, account: AccountRecord, request: Placement) -> OrderRecord:
        """Place an order of any of the eight types; a market order fills at once.

        A market order ignores ``price`` (it fills at the ask or the bid).
        Raises ``SimError`` 400: ``invalid_symbol``, ``invalid_type``,
        ``invalid_volume``, ``invalid_price`` (a pending price on the wrong
        side, a bad stop-limit price), ``invalid_stops``,
        ``invalid_expiration`` (not in the future) or ``not_enough_money``.
        """
        spec = self._spec_for_order(request.symbol)
        if request.type not in ALL_ORDER_TYPES:
            raise SimError(
                400,
                "invalid_type",
                f"unknown order type {request.type!r}; use one of {', '.join(ALL_ORDER_TYPES)}",
            )
        check_volume(request.volume)
        quote = self._market.quote(spec.name)
        is_buy = request.type.startswith("BUY")
        market = request.type in MARKET_ORDER_TYPES
        stop_limit = None
        if market:
            entry = quote.ask if is_buy else quote.bid
        else:
            entry = check_pending_price(request.type, request.price, quote)
            if request.type in STOP_LIMIT_TYPES:
                stop_limit = spec.round(check_stop_limit(request.type, entry, request.stop_limit))
        sl = stop(request.sl, "sl")
        tp = stop(request.tp, "tp")
        check_stops(is_buy, entry if stop_limit is None else stop_limit, sl, tp)
        now = self._now()
        expiration = None if market else request.expiration
        if expiration is not None and expiration <= now:
            raise SimError(400, "invalid_expiration", "the expiration must be in the future")
        order = OrderRecord(
            ticket=self._tickets.order(),
            symbol=spec.name,
            type=request.type,
            volume=request.volume,
            price=spec.round(entry),
            sl=sl,
            tp=tp,
            comment=request.comment,
            placed_at=now,
            magic=request.magic,
            expiration=expiration,
            stop_limit=stop_limit,
        )
        if market:
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
        if market:
            self.lifecycle.open_deal(account, order)
            self._accounts.emit_account_update(account, force=True)
        return order

    def _spec_for_order(self, symbol: str) -> SymbolSpec:
        # An unknown symbol in an order body is a bad request, not a missing resource.
        try:
            return self._money.spec(symbol)
        except SimError as exc:
            raise SimError(400, exc.code, exc.message) from None

    # ------------------------------------------------------------- changing

    def pending_orders(self, account: AccountRecord) -> list[OrderReply]:
        return [o.reply() for o in account.orders.values() if o.filled_at is None]

    def modify_order(
        self, account: AccountRecord, order_id: str, body: dict[str, Any]
    ) -> ModifyOrderReply:
        """Change SL, TP or a pending price (the reference dialect). ``0`` removes an SL
        or TP; absent keeps it.

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
        order = self.order(account, order_id)
        changed = self.change(
            account,
            order,
            sl=None if body.get("sl") is None else number(body["sl"], "sl"),
            tp=None if body.get("tp") is None else number(body["tp"], "tp"),
            price=None if body.get("price") is None else number(body["price"], "price"),
        )
        return ModifyOrderReply(
            id=order.id, sl=order.sl, tp=order.tp, price=order.price, updated=changed
        )

    def change(
        self,
        account: AccountRecord,
        order: OrderRecord,
        *,
        sl: float | None = None,
        tp: float | None = None,
        price: float | None = None,
        stop_limit: float | None = None,
        expiration: datetime | None = None,
    ) -> bool:
        """Change an order; ``None`` keeps a field, an ``sl`` or ``tp`` of 0 removes it.

        Returns whether anything changed (an ``order_modified`` event then
        follows when SL, TP or price did). Raises ``SimError`` 400
        ``invalid_price`` (a price for a position, or on the wrong side),
        ``invalid_stops`` or ``invalid_expiration``.
        """
        spec = self._money.spec(order.symbol)
        quote = self._market.quote(order.symbol)
        pending = order.filled_at is None
        new_price = order.price
        if price is not None:
            if not pending:
                raise SimError(400, "invalid_price", "the price of a filled position cannot change")
            new_price = spec.round(check_pending_price(order.type, price, quote))
        new_limit = order.stop_limit
        if stop_limit is not None or (price is not None and order.stop_limit is not None):
            if order.stop_limit is None:
                raise SimError(
                    400, "invalid_price", "only a stop-limit order has a stop-limit price"
                )
            wanted = order.stop_limit if stop_limit is None else stop_limit
            new_limit = spec.round(check_stop_limit(order.type, new_price, wanted))
        new_sl = order.sl if sl is None else stop(sl, "sl")
        new_tp = order.tp if tp is None else stop(tp, "tp")
        if pending:
            check_stops(order.is_buy, new_price if new_limit is None else new_limit, new_sl, new_tp)
        else:
            check_stops(order.is_buy, close_price(order, quote), new_sl, new_tp)
        new_expiration = order.expiration
        if expiration is not None and pending:
            if expiration <= self._now():
                raise SimError(400, "invalid_expiration", "the expiration must be in the future")
            new_expiration = expiration
        changed = (new_sl, new_tp, new_price) != (order.sl, order.tp, order.price)
        other = (new_limit, new_expiration) != (order.stop_limit, order.expiration)
        order.sl, order.tp, order.price = new_sl, new_tp, new_price
        order.stop_limit, order.expiration = new_limit, new_expiration
        if changed:
            self._accounts.emit(
                account,
                OrderModified,
                OrderModifiedData(id=order.id, sl=new_sl, tp=new_tp, price=new_price),
            )
        return changed or other

    def close_order(self, account: AccountRecord, order_id: str) -> CloseOrderReply:
        """Close a position at the market, or cancel a pending order (the reference dialect).

        Raises ``SimError`` 404 ``order_not_found``.
        """
        order = self.order(account, order_id)
        if order.filled_at is None:
            self.lifecycle.cancel(account, order)
            return CloseOrderReply(id=order.id, status="cancelled", close_price=None, profit=0.0)
        closed = self.lifecycle.close(account, order, self._market.quote(order.symbol))
        return CloseOrderReply(
            id=order.id, status="closed", close_price=closed.price, profit=closed.profit
        )

    @staticmethod
    def order(account: AccountRecord, order_id: str) -> OrderRecord:
        """Raises ``SimError`` 404 ``order_not_found``."""
        order = account.orders.get(order_id)
        if order is None:
            raise SimError(
                404, "order_not_found", f"no open position or pending order {order_id!r}"
            )
        return order
