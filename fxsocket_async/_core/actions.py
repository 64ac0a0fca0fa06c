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
    "QuoteSink",
    "Recover",
    "Resolve",
    "Send",
    "SendPing",
]


class QuoteSink(Protocol):
    """A quote consumer's buffer, as the protocol feeds it."""

    capacity: int
    dropped: int

    def push_many(self, quotes: list[Quote]) -> None: ...

    def fail(self, error: FxSocketError) -> None: ...

    def close(self) -> None: ...


class EventSink(Protocol):
    """An events consumer's lossless buffer, as the protocol feeds it."""

    include_unknown: bool
    dropped: int

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
class Close:
    """The connection is dead (``reason`` says why): close it; the stream reconnects."""

    reason: str


Action: TypeAlias = Send | SendPing | Resolve | Recover | Close
