"""Trading through the terminal: ``/OrderSend``, ``/OrderModify``, ``/OrderClose``, ``/CloseAll``.

The engine is the reference dialect's (``Orders.place``, ``Orders.change``,
``Lifecycle.close``); this module reads the terminal's bodies and answers as
the vendor SDK expects. A request the terminal cannot read (a missing or
mistyped field, an unknown operation or symbol, a volume that is not
positive, a pending order without its price) is an HTTP 400
``MRPC_VALIDATION``. Anything the broker refuses is a 200 ``OrderResult``
with ``success: false``, a MetaTrader 5 ``retcode`` and its description:

========  ====================================================================
10009     done (a market order, a modify, a close, a deleted pending order)
10008     placed (a pending order)
10025     no changes (a modify that changes nothing: ``outcome`` ``no_change``)
10013     no open position or pending order with that ticket
10014     invalid volume (off the 0.01 step, under 0.01, over 100)
10015     invalid price (a pending price on the wrong side, a price for a position)
10016     invalid stops (an SL or TP on the wrong side)
10019     not enough money (the free margin cannot carry it)
10022     invalid expiration (not in the future)
10038     the volume to close exceeds the position's
========  ====================================================================
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final, TypeVar

import msgspec

from ._checks import check_volume
from ._engine import Engine
from ._errors import SimError
from ._lifecycle import VOLUME_EPSILON
from ._orders import ALL_ORDER_TYPES, Placement
from ._records import AccountRecord, OrderRecord
from ._terminal_views import mt_type
from ._terminal_wire import (
    CloseAllBody,
    OrderCloseBody,
    OrderModifyBody,
    OrderSendBody,
    TCloseAllResult,
    TCloseAllSummary,
    TOrderResult,
)

__all__ = [
    "VALIDATION",
    "close_all",
    "decode_body",
    "operation_type",
    "order_close",
    "order_modify",
    "order_send",
    "parse_time",
]

T = TypeVar("T")

#: The terminal's code for a request it cannot read (the vendor SDK's tests show it).
VALIDATION: Final = "MRPC_VALIDATION"

DONE, PLACED, NO_CHANGES = 10009, 10008, 10025
INVALID, INVALID_VOLUME, INVALID_PRICE, INVALID_STOPS = 10013, 10014, 10015, 10016
NO_MONEY, INVALID_EXPIRATION, INVALID_CLOSE_VOLUME = 10019, 10022, 10038
DESCRIPTIONS: Final = {
    DONE: "Request completed",
    PLACED: "Order placed",
    NO_CHANGES: "No changes in request",
    INVALID: "Invalid request",
    INVALID_VOLUME: "Invalid volume in the request",
    INVALID_PRICE: "Invalid price in the request",
    INVALID_STOPS: "Invalid stops in the request",
    NO_MONEY: "There is not enough money to complete the request",
    INVALID_EXPIRATION: "Invalid order expiration date in the request",
    INVALID_CLOSE_VOLUME: "The volume to be closed exceeds the current volume of the position",
}
#: The engine's refusals that a broker answers with a retcode.
_RETCODES: Final = {
    "invalid_volume": INVALID_VOLUME,
    "invalid_price": INVALID_PRICE,
    "invalid_stops": INVALID_STOPS,
    "not_enough_money": NO_MONEY,
    "invalid_expiration": INVALID_EXPIRATION,
}
_OPERATIONS: Final = {t.replace("_", "").lower(): t for t in ALL_ORDER_TYPES}


def invalid(detail: str) -> SimError:
    return SimError(400, VALIDATION, detail)


def decode_body(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """A JSON body; raises ``SimError`` 400 ``MRPC_VALIDATION`` if it cannot be read."""
    if not body.strip():
        raise invalid("a JSON body is required")
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        reason = str(exc)
    except RecursionError:
        reason = "it is nested too deeply"
    raise invalid(f"invalid request body: {reason}")


def operation_type(operation: str) -> str:
    """``BuyLimit`` (any case, ``_`` or ``-`` allowed) -> ``BUY_LIMIT``; raises 400."""
    key = "".join(ch for ch in operation.lower() if ch.isalnum())
    kind = _OPERATIONS.get(key)
    if kind is None:
        known = ", ".join(mt_type(t) for t in ALL_ORDER_TYPES)
        raise invalid(f"unknown operation {operation!r}; use one of {known}")
    return kind


def parse_time(text: str | None, name: str) -> datetime | None:
    """An ISO 8601 time (broker time; a naive one reads as it is); raises 400."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid(f"{name} must be an ISO 8601 time, such as 2026-06-22T15:30:00Z") from None


def _finite(value: float | None, name: str, *, positive: bool = False) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        rule = "> 0" if positive else ">= 0"
        raise invalid(f"{name} must be a finite number {rule}, not {value!r}")
    return value


def _result(
    engine: Engine,
    symbol: str,
    retcode: int,
    *,
    order: int = 0,
    deal: int = 0,
    volume: float = 0.0,
    price: float = 0.0,
    comment: str = "",
) -> TOrderResult:
    quote = engine.market.quote(symbol) if symbol in engine.market.specs else None
    outcome = {DONE: "applied", PLACED: "applied", NO_CHANGES: "no_change"}.get(retcode, "rejected")
    description = DESCRIPTIONS[retcode]
    return TOrderResult(
        success=retcode in (DONE, PLACED),
        outcome=outcome,
        retcode=retcode,
        retcode_description=description,
        deal=deal,
        order=order,
        volume=volume,
        price=price,
        bid=0.0 if quote is None else quote.bid,
        ask=0.0 if quote is None else quote.ask,
        comment=comment or description,
    )


def _refused(
    engine: Engine,
    symbol: str,
    exc: SimError,
    *,
    order: int = 0,
    volume: float = 0.0,
    price: float = 0.0,
) -> TOrderResult:
    retcode = _RETCODES.get(exc.code)
    if retcode is None:
        raise invalid(exc.message) from None
    return _result(
        engine, symbol, retcode, order=order, volume=volume, price=price, comment=exc.message
    )


def _unknown(engine: Engine, ticket: int) -> TOrderResult:
    return _result(
        engine, "", INVALID, order=ticket, comment=f"no open position or pending order #{ticket}"
    )


def _deal_ticket(account: AccountRecord, ticket: int) -> int:
    if account.platform == "mt4":
        return 0
    for deal in reversed(account.deals):
        if deal.position == ticket:
            return deal.ticket
    return 0


# ------------------------------------------------------------------ routes


def order_send(engine: Engine, account: AccountRecord, body: OrderSendBody) -> TOrderResult:
    kind = operation_type(body.operation)
    volume = _finite(body.volume, "volume", positive=True)
    assert volume is not None
    pending = kind not in ("BUY", "SELL")
    if pending and _finite(body.price, "price", positive=True) is None:
        raise invalid(f"price is required for pending orders ({mt_type(kind)})")
    stop_limit = _finite(body.stop_limit_price, "stopLimitPrice", positive=True)
    if kind.endswith("_STOP_LIMIT") and stop_limit is None:
        raise invalid(f"stopLimitPrice is required for {mt_type(kind)} orders")
    if body.symbol not in engine.market.specs:
        raise invalid(f"unknown symbol {body.symbol!r}")
    placement = Placement(
        symbol=body.symbol,
        type=kind,
        volume=volume,
        price=body.price if pending else None,
        sl=_finite(body.stop_loss, "stopLoss"),
        tp=_finite(body.take_profit, "takeProfit"),
        comment=body.comment or "",
        magic=body.expert_id or 0,
        expiration=parse_time(body.expiration, "expiration") if pending else None,
        stop_limit=stop_limit,
    )
    try:
        order = engine.orders.place(account, placement)
    except SimError as exc:
        return _refused(engine, body.symbol, exc, volume=volume)
    if order.filled_at is None:
        return _result(
            engine, order.symbol, PLACED, order=order.ticket, volume=order.volume, price=order.price
        )
    return _result(
        engine,
        order.symbol,
        DONE,
        order=order.ticket,
        deal=_deal_ticket(account, order.ticket),
        volume=order.volume,
        price=order.price,
        comment="Request executed",
    )


def order_modify(engine: Engine, account: AccountRecord, body: OrderModifyBody) -> TOrderResult:
    sl = _finite(body.stop_loss, "stopLoss")
    tp = _finite(body.take_profit, "takeProfit")
    price = _finite(body.price, "price", positive=True)
    stop_limit = _finite(body.stop_limit_price, "stopLimitPrice", positive=True)
    expiration = parse_time(body.expiration, "expiration")
    order = account.order(body.ticket)
    if order is None:
        return _unknown(engine, body.ticket)
    try:
        changed = engine.orders.change(
            account, order, sl=sl, tp=tp, price=price, stop_limit=stop_limit, expiration=expiration
        )
    except SimError as exc:
        return _refused(
            engine, order.symbol, exc, order=order.ticket, volume=order.volume, price=order.price
        )
    retcode = DONE if changed else NO_CHANGES
    return _result(
        engine,
        order.symbol,
        retcode,
        order=order.ticket,
        volume=order.volume,
        price=order.price,
        comment="Request executed" if changed else "No changes",
    )


def order_close(engine: Engine, account: AccountRecord, body: OrderCloseBody) -> TOrderResult:
    """Close a position (all of it, or ``volume`` lots), or delete a pending order."""
    volume = _finite(body.volume, "volume") or None  # 0 or absent: all of it
    order = account.order(body.ticket)
    if order is None:
        return _unknown(engine, body.ticket)
    if order.filled_at is None:
        engine.lifecycle.cancel(account, order)
        return _result(
            engine, order.symbol, DONE, order=order.ticket, volume=order.volume, price=order.price
        )
    if volume is not None:
        if volume > order.volume + VOLUME_EPSILON:
            return _result(
                engine,
                order.symbol,
                INVALID_CLOSE_VOLUME,
                order=order.ticket,
                volume=volume,
                comment=f"position #{order.ticket} holds {order.volume} lots, not {volume}",
            )
        try:
            check_volume(volume)
        except SimError as exc:
            return _refused(engine, order.symbol, exc, order=order.ticket, volume=volume)
    closed = engine.lifecycle.close(account, order, engine.market.quote(order.symbol), volume)
    return _result(
        engine,
        order.symbol,
        DONE,
        order=order.ticket,
        deal=0 if account.platform == "mt4" else closed.deal.ticket,
        volume=closed.deal.volume,
        price=closed.price,
        comment="Request executed",
    )


def close_all(engine: Engine, account: AccountRecord, body: CloseAllBody) -> TCloseAllSummary:
    """Close the matching positions (and delete matching pending orders with
    ``deletePending``), in the order they were placed."""

    def matches(order: OrderRecord) -> bool:
        return (
            (body.symbol is None or order.symbol == body.symbol)
            and (body.magic is None or order.magic == body.magic)
            and (order.filled_at is not None or bool(body.delete_pending))
        )

    results = []
    for order in [o for o in account.orders.values() if matches(o)]:
        if order.filled_at is None:
            engine.lifecycle.cancel(account, order)
        else:
            engine.lifecycle.close(account, order, engine.market.quote(order.symbol))
        results.append(
            TCloseAllResult(
                ticket=order.ticket,
                kind="pending" if order.filled_at is None else "position",
                success=True,
                retcode=DONE,
                retcode_description=DESCRIPTIONS[DONE],
            )
        )
    return TCloseAllSummary(requested=len(results), closed=len(results), failed=0, results=results)
