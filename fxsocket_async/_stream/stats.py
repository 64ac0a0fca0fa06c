"""What users read of a stream: ``fx.stats()["stream"]``, ``subscription.stats()``, and
the ``ConnectionState`` of a socket (``fx.connection()``)."""

# No "from __future__ import annotations": the Structs' __module__ is rewritten to
# fxsocket_async.types, so msgspec must not resolve string annotations later.
from datetime import datetime
from typing import Literal, TypeAlias

import msgspec

from .._exceptions import FxSocketError

__all__ = ["ConnectionState", "ConnectionStateName", "StreamStats", "SubscriptionStats"]

ConnectionStateName: TypeAlias = Literal[
    "idle", "connecting", "live", "degraded", "reconnecting", "closed", "failed"
]


class ConnectionState(msgspec.Struct, frozen=True, kw_only=True):
    """One state of a stream socket (see the module docstring for their meaning)."""

    state: ConnectionStateName
    #: When the socket entered this state (UTC, the session's clock).
    since: datetime
    #: Why: what ended the connection, what the last attempt met, why it is degraded.
    reason: str = ""
    #: ``reconnecting`` / ``connecting``: the number of the attempt about to be made.
    attempt: int = 0
    #: ``reconnecting``: when that attempt will be made.
    next_attempt_at: datetime | None = None
    #: ``failed``: the error (also raised to every consumer).
    error: FxSocketError | None = None


class StreamStats(msgspec.Struct, frozen=True, kw_only=True):
    """The stream's counters, from ``fx.stats()["stream"]``."""

    connected: bool
    #: The socket's ``ConnectionState.state`` (``fx.connection()`` has the whole state).
    state: str
    frames: int
    bytes: int
    decode_errors: int
    unknown_events: int
    reconnects: int
    gaps: int
    recovered_events: int
    conflated: int
    dropped: int
    buffer_depth: int
    consumers: int
    newest_quote_age: float | None


class SubscriptionStats(msgspec.Struct, frozen=True, kw_only=True):
    """A consumer's counters, from ``subscription.stats()``."""

    delivered: int
    conflated: int
    dropped: int
    depth: int
    newest_quote_age: float | None = None
