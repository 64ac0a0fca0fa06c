"""Nanosecond times: the archive's unit (``datetime`` stops at microseconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = ["EPOCH", "datetime_ns", "from_ns", "iso_ns", "parse_duration"]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)
_MICROSECOND: Final = timedelta(microseconds=1)


def datetime_ns(value: datetime) -> int:
    """Nanoseconds since the epoch; an aware time as its UTC instant, a naive one as it reads.

    Exact (integer arithmetic): what pyarrow stores for the same ``datetime``.
    """
    epoch = EPOCH if value.tzinfo is not None else _NAIVE_EPOCH
    return (value - epoch) // _MICROSECOND * 1000


def from_ns(ns: int) -> datetime:
    """The UTC ``datetime`` of ``ns`` (to the microsecond)."""
    return EPOCH + timedelta(microseconds=ns // 1000)


def iso_ns(ns: int) -> str:
    """``2026-01-05T10:00:00.123456789Z``: UTC, every nanosecond digit kept."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    whole = EPOCH + timedelta(seconds=seconds)
    return f"{whole:%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``500ms``, ``30s``, ``15m``, ``1h``, ``2d`` or plain seconds (``90``); raises ``ValueError``.

    Compound forms add up: ``1h30m``.
    """
    value = text.strip().lower()
    if not value:
        raise ValueError("an empty duration")
    try:
        seconds = float(value)
    except ValueError:
        seconds = _compound(value)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"a duration must be positive and finite, not {text!r}")
    return seconds


def _compound(value: str) -> float:
    total = 0.0
    number = ""
    index = 0
    while index < len(value):
        char = value[index]
        if char.isdigit() or char == ".":
            number += char
            index += 1
            continue
        unit = "ms" if value.startswith("ms", index) else char
        if unit not in _UNITS or not number:
            raise ValueError(f"{value!r} is not a duration such as 500ms, 30s, 15m, 1h or 1h30m")
        try:
            total += float(number) * _UNITS[unit]
        except ValueError:
            raise ValueError(f"{value!r} is not a duration") from None
        number = ""
        index += len(unit)
    if number:
        raise ValueError(f"{value!r} ends without a unit (s, m, h...)")
    return total
