"""What users read of a stream: ``fx.stats()["stream"]``, ``subscription.stats()``, and
the ``ConnectionState`` of a socket (``fx.connection()``)."""

# No "from __future__ import annotations": the Structs' __module__ is rewritten to
# fxsocket_async.types, so msgspec must not resolve string annotations later.
from datetime import datetime
from typing import Literal, TypeAlias

import msgspec

from .._exceptions import FxSocketError

__all__ = [
    "ConnectionState",
    "ConnectionStateName",
    "StreamStats",
    "SubscriptionStats",
    "combined",
]

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
    #: Messages the server reported dropping because this client read too slowly.
    server_dropped: int = 0
    #: Stream-level error frames from the server that answered no request (logged too).
    notices: int = 0
    #: The WebSocket client under the socket: ``"aiohttp"`` or ``"picows"``
    #: (``StreamPolicy.transport``); for the sum of several sockets, theirs if they agree.
    transport: str = ""


class SubscriptionStats(msgspec.Struct, frozen=True, kw_only=True):
    """A consumer's counters, from ``subscription.stats()``."""

    delivered: int
    conflated: int
    dropped: int
    depth: int
    newest_quote_age: float | None = None


# The order in which one socket's trouble outranks another's, for the sum of them.
_WORST_FIRST: tuple[str, ...] = (
    "failed",
    "reconnecting",
    "degraded",
    "connecting",
    "live",
    "idle",
    "closed",
)
_SUMMED = (
    "frames",
    "bytes",
    "decode_errors",
    "unknown_events",
    "reconnects",
    "gaps",
    "recovered_events",
    "conflated",
    "dropped",
    "buffer_depth",
    "consumers",
    "server_dropped",
    "notices",
)


def combined(each: list[StreamStats]) -> StreamStats | None:
    """Every socket's counters summed; the state of the one in the worst state.

    ``connected`` is true when every socket that has consumers is open;
    ``newest_quote_age`` is the freshest socket's.
    """
    if not each:
        return None
    if len(each) == 1:
        return each[0]
    busy = [s for s in each if s.consumers] or each
    state = min((s.state for s in busy), key=_WORST_FIRST.index)
    ages = [s.newest_quote_age for s in each if s.newest_quote_age is not None]
    transports = {s.transport for s in each}
    totals = {name: sum(getattr(s, name) for s in each) for name in _SUMMED}
    return StreamStats(
        connected=all(s.connected for s in busy),
        state=state,
        newest_quote_age=min(ages) if ages else None,
        transport=transports.pop() if len(transports) == 1 else "mixed",
        **totals,
    )
