"""The order rules that need no state: volumes, prices, stops and triggers.

Each check raises ``SimError`` 400 with the wire's code; each predicate reads
only the order and a quote.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from .._core.codec import encode
from .._core.models import CreateOrderRequest, Quote
from ._errors import SimError
from ._records import OrderRecord

__all__ = [
    "MAX_VOLUME",
    "MIN_VOLUME",
    "VOLUME_STEP",
    "check_pending_price",
    "check_stop_limit",
    "check_stops",
    "check_volume",
    "fingerprint",
    "number",
    "stop",
    "stopped_out",
    "triggered",
]

MIN_VOLUME, MAX_VOLUME, VOLUME_STEP = 0.01, 100.0, 0.01


def fingerprint(request: CreateOrderRequest) -> bytes:
    """A digest of the order request, for idempotency."""
    # The decoded body, re-encoded, so whitespace and key order do not matter.
    return hashlib.sha256(encode(request)).digest()


def number(value: Any, name: str) -> float:
    """``value`` as a float; raises ``SimError`` 400 ``invalid_request`` if not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SimError(400, "invalid_request", f"{name} must be a number")
    return float(value)


def check_volume(volume: float) -> None:
    """Raises ``SimError`` 400 ``invalid_volume`` outside the limits or off the step."""
    if not math.isfinite(volume) or volume <= 0:
        raise SimError(400, "invalid_volume", "volume must be a positive finite number of lots")
    if not MIN_VOLUME <= volume <= MAX_VOLUME:
        raise SimError(
            400, "invalid_volume", f"volume must be between {MIN_VOLUME} and {MAX_VOLUME} lots"
        )
    steps = volume / VOLUME_STEP
    if abs(steps - round(steps)) > 1e-6:
        raise SimError(400, "invalid_volume", f"volume must be a multiple of {VOLUME_STEP} lots")


def check_pending_price(order_type: str, price: float | None, quote: Quote) -> float:
    """The price of a pending order, if on the right side of ``quote``.

    Raises ``SimError`` 400 ``invalid_price`` if it is missing, not a positive
    finite number, or on the wrong side.
    """
    if price is None:
        raise SimError(400, "invalid_price", f"price is required for {order_type} orders")
    if not (math.isfinite(price) and price > 0):
        raise SimError(400, "invalid_price", "price must be a positive finite number")
    rules = {
        "BUY_LIMIT": (price < quote.ask, "below the ask"),
        "SELL_LIMIT": (price > quote.bid, "above the bid"),
        "BUY_STOP": (price > quote.ask, "above the ask"),
        "SELL_STOP": (price < quote.bid, "below the bid"),
        "BUY_STOP_LIMIT": (price > quote.ask, "above the ask"),
        "SELL_STOP_LIMIT": (price < quote.bid, "below the bid"),
    }
    ok, where = rules[order_type]
    if not ok:
        raise SimError(
            400,
            "invalid_price",
            f"a {order_type} price must be {where} (bid {quote.bid}, ask {quote.ask})",
        )
    return price


def check_stop_limit(order_type: str, price: float, limit: float | None) -> float:
    """The limit price of a ``*_STOP_LIMIT`` order: below its stop price for a BUY,
    above it for a SELL.

    Raises ``SimError`` 400 ``invalid_price`` if it is missing, not a positive
    finite number, or on the wrong side of the stop price.
    """
    if limit is None or not (math.isfinite(limit) and limit > 0):
        raise SimError(
            400, "invalid_price", f"a {order_type} order needs a positive stop-limit price"
        )
    buy = order_type.startswith("BUY")
    if (limit >= price) if buy else (limit <= price):
        where = "below" if buy else "above"
        raise SimError(
            400,
            "invalid_price",
            f"a {order_type} stop-limit price must be {where} its stop price {price}",
        )
    return limit


def stop(value: float | None, name: str) -> float | None:
    """An SL or TP as given, ``None`` for none.

    Raises ``SimError`` 400 ``invalid_stops`` unless it is a positive finite price or 0.
    """
    # 0 means "no stop", as in MetaTrader.
    if value is None or value == 0:
        return None
    if not (math.isfinite(value) and value > 0):
        raise SimError(
            400, "invalid_stops", f"{name} must be a positive finite price, or 0 for none"
        )
    return value


def check_stops(is_buy: bool, reference: float, sl: float | None, tp: float | None) -> None:
    """Raises ``SimError`` 400 ``invalid_stops`` for an SL or TP on the wrong side."""
    side = "BUY" if is_buy else "SELL"
    if sl is not None and (sl >= reference if is_buy else sl <= reference):
        where = "below" if is_buy else "above"
        raise SimError(400, "invalid_stops", f"a {side} stop loss must be {where} {reference}")
    if tp is not None and (tp <= reference if is_buy else tp >= reference):
        where = "above" if is_buy else "below"
        raise SimError(400, "invalid_stops", f"a {side} take profit must be {where} {reference}")


def triggered(order: OrderRecord, quote: Quote) -> bool:
    """Whether ``quote`` crosses a pending order's price."""
    if order.type == "BUY_LIMIT":
        return quote.ask <= order.price
    if order.type == "SELL_LIMIT":
        return quote.bid >= order.price
    if order.type in ("BUY_STOP", "BUY_STOP_LIMIT"):
        return quote.ask >= order.price
    return quote.bid <= order.price  # SELL_STOP, SELL_STOP_LIMIT


def stopped_out(order: OrderRecord, quote: Quote) -> bool:
    """Whether ``quote`` touches a position's SL or TP."""
    price = quote.bid if order.is_buy else quote.ask
    if order.is_buy:
        return (order.sl is not None and price <= order.sl) or (
            order.tp is not None and price >= order.tp
        )
    return (order.sl is not None and price >= order.sl) or (
        order.tp is not None and price <= order.tp
    )
