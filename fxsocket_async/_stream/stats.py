"""The counters users read: ``fx.stats()["stream"]`` and ``subscription.stats()``."""

# No "from __future__ import annotations": the Structs' __module__ is rewritten to
# fxsocket_async.types, so msgspec must not resolve string annotations later.
import msgspec

__all__ = ["StreamStats", "SubscriptionStats"]


class StreamStats(msgspec.Struct, frozen=True, kw_only=True):
    """The stream's counters, from ``fx.stats()["stream"]``."""

    connected: bool
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
