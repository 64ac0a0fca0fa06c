"""Integer bar numbering of every timeframe, and bar alignment.

Every timeframe is indexed by an integer (bar number since 1970 for the
fixed-length frames, ``year * 12 + month - 1`` for ``MN``), which makes
ranges, "the last N" and month arithmetic exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Final

from .._core.models import TIMEFRAMES

__all__ = ["DAY", "FRAMES", "Frame", "align", "frame_of", "next_bar", "to_utc"]

DAY: Final = 86_400.0

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MIDNIGHT: Final = _EPOCH.time()
_MIN_SECONDS: Final = (date(1, 1, 1).toordinal() - date(1970, 1, 1).toordinal()) * 86_400


def _days_from_civil(year: int, month: int, day: int) -> int:
    # Days since 1970-01-01 of a proleptic Gregorian date, for any year (Howard
    # Hinnant's algorithm); unlike date(), it does not stop at year 9999.
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


class Frame:
    """Integer bar numbering of one timeframe."""

    __slots__ = ("_origin", "_step", "code", "length", "min_index", "name", "origin")

    def __init__(self, name: str, code: int, length: int, origin: int = 0) -> None:
        self.name = name
        self.code = code
        self.length = length  # seconds; 0 for calendar months
        self.origin = origin  # epoch seconds of bar 0
        self._origin = _EPOCH + timedelta(seconds=origin)
        self._step = timedelta(seconds=length or 1)
        if length:
            self.min_index = -((origin - _MIN_SECONDS) // length)
        else:
            self.min_index = 12  # January of year 1

    def index(self, t: datetime) -> int:
        """Number of the bar containing ``t`` (an aware UTC datetime)."""
        if self.length:
            return (t - self._origin) // self._step
        return t.year * 12 + t.month - 1

    def ceil_index(self, t: datetime) -> int:
        """Number of the first bar starting at or after ``t``."""
        # Compared without building the floor bar's start, which may lie
        # before year 1.
        if self.length:
            on_boundary = (t - self._origin) % self._step == timedelta(0)
        else:
            on_boundary = t.day == 1 and t.time() == _MIDNIGHT
        index = self.index(t)
        return index if on_boundary else index + 1

    def start(self, index: int) -> datetime:
        """Start of bar ``index`` as an aware UTC datetime."""
        if self.length:
            return self._origin + self._step * index
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)

    def start_seconds(self, index: int) -> float:
        """Start of bar ``index`` in seconds since the epoch."""
        if self.length:
            return float(self.origin + self.length * index)
        return _days_from_civil(index // 12, index % 12 + 1, 1) * DAY


_FIXED_SECONDS: Final = {
    "M1": 60,
    "M5": 300,
    "M15": 900,
    "M30": 1800,
    "H1": 3600,
    "H4": 14_400,
    "D1": 86_400,
    "W1": 604_800,
}
# 1970-01-05, the first Monday after the epoch, so weekly bars start on Mondays.
_FIRST_MONDAY: Final = 4 * 86_400
FRAMES: Final[Mapping[str, Frame]] = MappingProxyType(
    {
        name: Frame(
            name,
            code,
            _FIXED_SECONDS.get(name, 0),
            _FIRST_MONDAY if name == "W1" else 0,
        )
        for code, name in enumerate(TIMEFRAMES)
    }
)
assert set(FRAMES) == set(_FIXED_SECONDS) | {"MN"}, "TIMEFRAMES changed"


def frame_of(timeframe: str) -> Frame:
    """The bar numbering of ``timeframe``; raises ``ValueError`` for an unknown one."""
    frame = FRAMES.get(timeframe)
    if frame is None:
        raise ValueError(f"unknown timeframe {timeframe!r}; allowed: {', '.join(TIMEFRAMES)}")
    return frame


def to_utc(t: datetime) -> datetime:
    """``t`` as an aware UTC datetime; a naive ``t`` is taken as UTC."""
    # Broker times are labelled UTC, so a naive one already is.
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def align(time: datetime, timeframe: str) -> datetime:
    """Start of the ``timeframe`` bar containing ``time``.

    M1 to H4 are multiples of their length since the epoch, D1 starts at
    midnight, W1 on Monday 00:00 and MN on the 1st of the month. Returns an
    aware UTC datetime (a naive ``time`` is taken as UTC). Raises
    ``ValueError`` for an unknown timeframe.
    """
    frame = frame_of(timeframe)
    return frame.start(frame.index(to_utc(time)))


def next_bar(start: datetime, timeframe: str) -> datetime:
    """Start of the bar after the one containing ``start`` (MN: the next calendar month)."""
    frame = frame_of(timeframe)
    return frame.start(frame.index(to_utc(start)) + 1)
