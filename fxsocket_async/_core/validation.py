"""Checks that refuse bad input before anything is sent.

Every refusal is a ``ValidationError`` (a ``UsageError``: nothing was sent)
with a message that says what to do instead. NaN, infinities and negative volumes never reach the
wire.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from .._exceptions import ValidationError
from .models import (
    HISTORY_MAX_LIMIT,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    MARKET_ORDER_TYPES,
    ORDER_TYPES,
    PENDING_ORDER_TYPES,
    TIMEFRAMES,
)

__all__ = [
    "REMOVE",
    "Remove",
    "as_wire_time",
    "check_account_id",
    "check_buffer",
    "check_idempotency_key",
    "check_modify",
    "check_order",
    "check_order_type",
    "check_page_size",
    "check_positive",
    "check_range",
    "check_stop_change",
    "check_symbol",
    "check_symbols",
    "check_timeframe",
    "check_volume_spec",
]


class Remove:
    """The explicit "remove this SL/TP" marker for ``orders.modify``."""

    _instance: Remove | None = None

    def __new__(cls) -> Remove:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REMOVE"


#: Pass as ``sl=`` or ``tp=`` to ``orders.modify`` to remove the stop.
REMOVE: Final = Remove()


def _refuse(code: str, message: str) -> ValidationError:
    return ValidationError(message, code=code)


def check_positive(name: str, value: object) -> float:
    """A price or volume: a real number, finite and above zero."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refuse(f"invalid_{name}", f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value):
        raise _refuse(f"invalid_{name}", f"{name} must be a finite number, not {value!r}")
    if value <= 0:
        raise _refuse(f"invalid_{name}", f"{name} must be above zero, not {value!r}")
    return float(value)


def check_volume_spec(
    symbol: str, volume: float, minimum: float, maximum: float, step: float
) -> None:
    """A volume the symbol's specification allows; a limit of 0 means "not stated".

    Refused here rather than by the broker so that the message says which
    volumes would be accepted.
    """
    if minimum > 0 and volume < minimum - 1e-9:
        raise _refuse(
            "invalid_volume", f"volume {volume!r} is below {symbol}'s minimum of {minimum!r} lots"
        )
    if maximum > 0 and volume > maximum + 1e-9:
        raise _refuse(
            "invalid_volume", f"volume {volume!r} is above {symbol}'s maximum of {maximum!r} lots"
        )
    if step > 0:
        base = minimum if minimum > 0 else 0.0
        steps = (volume - base) / step
        if abs(steps - round(steps)) > 1e-6:
            lower = base + math.floor(steps + 1e-9) * step
            raise _refuse(
                "invalid_volume",
                f"volume {volume!r} is not a multiple of {symbol}'s volume step {step!r}; "
                f"use {round(lower, 8)!r} or {round(lower + step, 8)!r}",
            )


def check_idempotency_key(key: object) -> str | None:
    """``None`` (one is minted), or the caller's key: 1 to 128 characters."""
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise _refuse(
            "invalid_idempotency_key",
            f"an idempotency key must be a string of 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} "
            "characters long",
        )
    return key


def check_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not symbol.strip():
        raise _refuse("invalid_symbol", "symbol must be a non-empty string such as 'EURUSD'")
    return symbol


def _one_of(value: str, choices: tuple[str, ...], what: str, code: str) -> str:
    # Case-insensitive, returned in the wire's upper case.
    canonical = value.upper() if isinstance(value, str) else value
    if canonical not in choices:
        raise _refuse(code, f"unknown {what} {value!r}; use one of {', '.join(choices)}")
    return str(canonical)


def check_order_type(order_type: str) -> str:
    """A known order type, in canonical upper case."""
    return _one_of(order_type, ORDER_TYPES, "order type", "invalid_type")


def check_order(
    symbol: str,
    order_type: str,
    volume: float,
    price: float | None,
    sl: float | None,
    tp: float | None,
) -> str:
    """Check an order before it is sent; return its type in canonical upper case."""
    check_symbol(symbol)
    kind = check_order_type(order_type)
    check_positive("volume", volume)
    if kind in PENDING_ORDER_TYPES and price is None:
        raise _refuse("invalid_price", f"a {kind} order needs price= (the level it waits for)")
    if kind in MARKET_ORDER_TYPES and price is not None:
        raise _refuse(
            "invalid_price",
            f"a {kind} order fills at the market: drop price=, or use {kind}_LIMIT/{kind}_STOP",
        )
    if price is not None:
        check_positive("price", price)
    for name, value in (("sl", sl), ("tp", tp)):
        if value is not None:
            check_positive(name, value)
    return kind


def check_stop_change(name: str, value: float | Remove | None) -> float | None:
    """An SL/TP for modify: ``None`` keeps it, ``REMOVE`` removes it (0 on the wire)."""
    if value is None:
        return None
    if isinstance(value, Remove):
        return 0.0
    if not isinstance(value, bool) and isinstance(value, int | float) and value == 0:
        raise _refuse(
            f"invalid_{name}",
            f"{name}=0 would remove the {name.upper()}; pass {name}=REMOVE to remove it",
        )
    return check_positive(name, value)


def check_modify(
    sl: float | Remove | None, tp: float | Remove | None, price: float | None
) -> tuple[float | None, float | None, float | None]:
    """The (sl, tp, price) to send for a modify; at least one must change."""
    values = (
        check_stop_change("sl", sl),
        check_stop_change("tp", tp),
        None if price is None else check_positive("price", price),
    )
    if values == (None, None, None):
        raise _refuse("invalid_request", "give at least one of sl=, tp=, price= to modify")
    return values


def check_timeframe(timeframe: str) -> str:
    """A known timeframe, in canonical upper case."""
    return _one_of(timeframe, TIMEFRAMES, "timeframe", "invalid_timeframe")


def check_range(start: datetime | None, end: datetime | None) -> None:
    for name, value in (("start", start), ("end", end)):
        if value is not None and not isinstance(value, datetime):
            raise _refuse("invalid_range", f"{name} must be a datetime")
    if start is not None and end is not None and as_wire_time(start) > as_wire_time(end):
        raise _refuse("invalid_range", f"start ({start}) is after end ({end}); swap them")


def as_wire_time(value: datetime) -> datetime:
    """The reading the wire gets (see ``format_time``): naive as is, aware in UTC, as naive."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def check_page_size(limit: int, maximum: int = HISTORY_MAX_LIMIT) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise _refuse("invalid_limit", f"page size must be a whole number from 1 to {maximum}")
    return limit


def check_history_query(
    start: datetime | None, end: datetime | None, limit: int, order_type: str | None
) -> str | None:
    """The checks of every read of closed trades (a page of ``limit``, or all of them in
    pages of it); returns the order type in canonical upper case."""
    check_range(start, end)
    check_page_size(limit)
    return None if order_type is None else check_order_type(order_type)


def check_offset(offset: int) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise _refuse("invalid_offset", f"offset must be a whole number >= 0, not {offset!r}")
    return offset


def check_symbols(symbols: tuple[object, ...], call: str) -> list[str]:
    """The symbols of a subscription, once each, in the order given."""
    if len(symbols) == 1 and isinstance(symbols[0], list | tuple | set | frozenset):
        given = ", ".join(repr(s) for s in symbols[0])
        raise _refuse(
            "invalid_symbol",
            f"pass the symbols as separate arguments: {call}({given}, account=...)",
        )
    if not symbols:
        raise _refuse("invalid_symbol", f"name at least one symbol: {call}('EURUSD', account=...)")
    for symbol in symbols:
        check_symbol(symbol)
    return list(dict.fromkeys(str(s) for s in symbols))


def check_buffer(buffer: object, default: int) -> int:
    """A consumer's buffer: a whole number of items, at least 1 (``None``: ``default``)."""
    if buffer is None:
        return default
    if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
        raise _refuse(
            "invalid_buffer",
            f"buffer must be a whole number of items, at least 1 (or None for {default}), "
            f"not {buffer!r}",
        )
    return buffer


def check_account_id(account_id: object) -> str:
    if not isinstance(account_id, str) or not account_id.strip():
        raise _refuse(
            "invalid_account", "account must be an account id such as fx.accounts.list()[0].id"
        )
    return account_id
