"""When to ping, and when a connection that still looks open is degraded or dead.

Two deadlines, checked on every tick with the time the caller read: no frame
at all for ``dead_after`` seconds (a half-open socket), or, while someone
consumes quotes and the market is open, no quote for ``quote_silence``
seconds (a stream that answers pings but has stopped delivering). Halfway to
the quote deadline the connection is *degraded*: still open, but suspect.
Frames are counted by the reader; comparing counts here keeps the hot path
free of clock reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from .counters import Counters

__all__ = ["Liveness", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a tick decided: whether to ping now, why the connection is dead or degraded."""

    ping: bool = False
    dead: str | None = None
    degraded: str | None = None


_NOTHING = Verdict()


class Liveness:
    """The deadlines of one connection, measured in the caller's monotonic seconds."""

    def __init__(self, ping_interval: float, dead_after: float, quote_silence: float | None):
        self._ping_interval = ping_interval
        self._dead_after = dead_after
        self._quote_silence = quote_silence
        self._frames_seen = self._quotes_seen = 0
        self._frames_at = self._quotes_at = self._pinged_at = 0.0
        #: When a quote last arrived (monotonic seconds), ``None`` before the first.
        self.newest_quote_at: float | None = None

    def start(self, now: float, counts: Counters) -> None:
        """A connection was made at ``now``: every deadline starts from it."""
        self._frames_seen, self._quotes_seen = counts.frames + counts.pongs, counts.quote_frames
        self._frames_at = self._quotes_at = self._pinged_at = now

    def tick(self, now: float, counts: Counters, quotes_wanted: bool, market_open: bool) -> Verdict:
        """Check the deadlines with the reader's counts as of ``now``."""
        frames, quotes = counts.frames + counts.pongs, counts.quote_frames
        if frames != self._frames_seen:
            self._frames_seen, self._frames_at = frames, now
        if quotes != self._quotes_seen:
            self._quotes_seen, self._quotes_at = quotes, now
            self.newest_quote_at = now
        if not quotes_wanted:
            self._quotes_at = now  # silence means nothing when nobody asked for quotes
        silent = now - self._frames_at
        if silent > self._dead_after:
            return Verdict(dead=f"no frame for {silent:.0f} s")
        quiet = now - self._quotes_at
        silence = self._quote_silence
        degraded = None
        if silence is not None and market_open and quiet > silence / 2:
            if quiet > silence:
                return Verdict(dead=f"no quote for {quiet:.0f} s while the market is open")
            degraded = f"no quote for {quiet:.0f} s while the market is open"
        ping = now - self._pinged_at >= self._ping_interval
        if ping:
            self._pinged_at = now
        if not ping and degraded is None:
            return _NOTHING
        return Verdict(ping=ping, degraded=degraded)
