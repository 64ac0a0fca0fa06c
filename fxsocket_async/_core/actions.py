"""What ``StreamProtocol`` asks its I/O layer to do, and the sinks it delivers into.

The protocol never touches a socket or a clock: it appends actions, and the
stream wing carries them out (``_stream``). Delivery is the one exception,
on purpose: items go straight into the consumers' ``Sink``s, which are
synchronous buffers, so the quote hot path makes one call per run of quotes
instead of an action object per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeAlias

from .._exceptions import FxSocketError
from .models import Quote

__all__ = [
    "Action",
    "Close",
    "EventSink",
    "Health",
    "QuoteSink",
    "Recover",
    "Resolve",
    "Send",
    "SendPing",
]


class QuoteSink(Protocol):
    """A quote consumer's buffer, as the protocol feeds it."""

    @property
    def capacity(self) -> int | None:
        """How many quotes it can hold before overflowing (``None``: it never overflows)."""
        ...

    @property
    def dropped(self) -> int: ...

    def push_many(self, quotes: list[Quote]) -> None:
        """Take a run of quotes of one symbol, oldest first."""
        ...

    def fail(self, error: FxSocketError) -> None: ...

    def close(self) -> None: ...


class EventSink(Protocol):
    """An events consumer's lossless buffer, as the protocol feeds it."""

    @property
    def include_unknown(self) -> bool: ...

    @property
    def dropped(self) -> int: ...

    def push(self, item: Any) -> None: ...

    def fail(self, error: FxSocketError) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Send:
    """Send this text frame on the current connection."""

    frame: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SendPing:
    """Send a WebSocket ping frame (for dialects without an application ping)."""


@dataclass(frozen=True, slots=True)
class Resolve:
    """The request behind ``ticket`` is settled: acknowledged, or refused with ``error``."""

    ticket: int
    error: FxSocketError | None = None


@dataclass(frozen=True, slots=True)
class Recover:
    """Read a recovery snapshot of ``account_id`` (history since ``watermark``) and hand
    it to ``StreamProtocol.recovered``."""

    account_id: str
    watermark: datetime | None


@dataclass(frozen=True, slots=True)
class Health:
    """The open connection is degraded (``reason``) or, with ``None``, healthy again."""

    reason: str | None


@dataclass(frozen=True, slots=True)
class Close:
    """The connection is dead (``reason`` says why): close it; the stream reconnects."""

    reason: str


Action: TypeAlias = Send | SendPing | Resolve | Recover | Health | Close
