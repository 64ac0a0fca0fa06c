"""``StreamProtocol``: one stream connection's state machine, frames in and actions out.

Modelled on websockets' sans-I/O protocol: the I/O layer feeds it what
happened (a connection was made or lost, frames arrived, a tick passed, a
consumer came or went, a snapshot was read) with the times it read, and
drains ``take_actions()``: frames to send, requests settled, recoveries to
run, a dead connection to close. Data goes straight into the consumers'
sinks (see ``actions``). It works for any ``StreamDialect``; one instance
serves one socket (all accounts of a key, or one account).

Parts: ``SubscriptionTable`` (ref counts, acks, replay plan), one
``AccountFeed`` per account with events consumers (seq, gaps, recovery),
and ``Liveness`` (pings and deadlines).
"""

from __future__ import annotations

import contextlib
import enum
import logging
from datetime import datetime
from typing import Any, Final

import msgspec

from .._exceptions import FxSocketError, ProtocolError
from .actions import (
    Close,
    Health,
    Resolve,
    Send,
    SendPing,
)
from .consumers import Consumers
from .counters import as_lines, size_of
from .dialect import Acked, Notice, Refused, ServerDropped, StreamDialect, Topic
from .events import UnknownEvent
from .feeds import deliver_unknown
from .liveness import Liveness
from .market import Bar, PositionsSnapshot, TerminalStatus
from .models import Quote

__all__ = ["LinkState", "StreamProtocol"]

log = logging.getLogger("fxsocket_async.stream")

_MALFORMED_LOG_EVERY: Final = 1000


class LinkState(enum.Enum):
    """The connection as the protocol knows it."""

    IDLE = "idle"  # never connected
    OPEN = "open"
    DOWN = "down"  # lost; the I/O layer is reconnecting
    FAILED = "failed"  # fatal: nothing will be sent again


class StreamProtocol(Consumers):
    """What one stream socket must do; see the module docstring.

    Its consumers' side (``add_quotes``, ``add_events``, ``seeded``...) is
    ``Consumers``; this class adds the connection, the frames and liveness.
    """

    def __init__(
        self,
        dialect: StreamDialect,
        *,
        ping_interval: float,
        dead_after: float,
        quote_silence: float | None,
        account_id: str | None = None,
    ) -> None:
        super().__init__(dialect)
        #: The account a per-account socket serves (quote frames may omit it).
        self.account_id = account_id or ""
        self.state = LinkState.IDLE
        self.fatal: FxSocketError | None = None
        #: Why the open connection is degraded (``None``: it is not).
        self.degraded: str | None = None
        self.liveness = Liveness(ping_interval, dead_after, quote_silence)
        self._down_since: datetime | None = None

    def __repr__(self) -> str:
        return f"StreamProtocol({self.dialect.name}, {self.state.value})"

    # -------------------------------------------------------------- connection

    def connection_made(self, wall: datetime, now: float) -> None:
        """The socket is open: replay what the server must know; a reconnect is a gap."""
        was_down, self._down_since = self._down_since, None
        self.state = LinkState.OPEN
        self.online = True
        self.degraded = None
        self.liveness.start(now, self.counters)
        for message in self.table.replay_plan():
            self._actions.append(Send(message.frame))
        if was_down is None:
            return
        self.counters.reconnects += 1
        for account_id in self.feeds.needing_recovery_after_reconnect(was_down, wall):
            self._recover(account_id)

    def connection_lost(self, wall: datetime) -> None:
        """The socket is gone; the I/O layer reconnects (or calls ``failed``)."""
        if self.state is LinkState.FAILED:
            return
        if self.state is LinkState.OPEN:
            self._down_since = wall
        self.state = LinkState.DOWN
        self.online = False
        self.table.connection_lost()
        for feed in self.feeds.values():
            feed.connection_lost()

    def failed(self, error: FxSocketError) -> None:
        """The stream cannot be (re)opened: end every consumer and waiter with ``error``."""
        self.state = LinkState.FAILED
        self.online = False
        self.fatal = error
        self.answer_waiters(error)
        for sink in self.sinks():
            sink.fail(error)

    def first_connect_failed(self, error: FxSocketError) -> None:
        """The first connection could not be made: whoever waits for it gets ``error``.

        Nothing is ended for good: the next consumer tries again.
        """
        self.state = LinkState.IDLE
        self.online = False
        self.answer_waiters(error)

    def tick(self, now: float, *, market_open: bool) -> None:
        """A liveness tick at monotonic ``now``: maybe ping, maybe declare the socket dead."""
        if self.state is not LinkState.OPEN:
            return
        for account_id, feed in list(self.feeds.items()):
            if feed.tick(now):
                self._recover(account_id)
        verdict = self.liveness.tick(now, self.counters, bool(self.quotes), market_open)
        if verdict.dead is not None:
            self._actions.append(Close(verdict.dead))
            return
        if verdict.degraded != self.degraded:
            self.degraded = verdict.degraded
            self._actions.append(Health(verdict.degraded))
        if verdict.ping:
            frame = self.dialect.ping(next(self.table.ids))
            self._actions.append(SendPing() if frame is None else Send(frame))

    # ------------------------------------------------------------------ frames

    def receive_frames(self, frames: list[Any], wall: datetime, size: int | None = None) -> None:
        """Decode and route frames (``wall``: when they were read; ``size``: their bytes,
        when the reader has counted them already): quotes in runs, everything else one
        by one. A frame that cannot be decoded is counted and skipped; it never ends the
        stream."""
        if not frames:
            return
        counters = self.counters
        count = len(frames)
        counters.frames += count
        # Most batches are quotes only. They are decoded in one call in C, as lines, by
        # a decoder of the quote frame alone: a call per frame (``map``) costs more than
        # the join, which counts the bytes too.
        lines = as_lines(frames)
        if size is None:
            size = size_of(frames) if lines is None else len(lines) - count + 1
        counters.bytes += size
        if lines is not None and count > 1:
            try:
                quotes = self.dialect.decode_quote_lines(lines)
            except (msgspec.DecodeError, RecursionError):
                pass
            else:
                # ``decode_lines`` reads values apart by whitespace, not by line, so a
                # frame of two values or none shows as a count that differs: then the
                # batch is read again frame by frame, which finds and counts it.
                if len(quotes) == count:
                    self._route_quote_frames(quotes)
                    return
        # Frame by frame: quotes up to the first frame that is not one in one pass in C
        # (``quotes`` holds what was decoded before a failure), the rest below.
        quotes = []
        with contextlib.suppress(msgspec.DecodeError, RecursionError):
            quotes.extend(map(self.dialect.decode_quote, frames))
        if quotes:
            self._route_quote_frames(quotes)
        if len(quotes) < count:
            self._receive_each(frames[len(quotes) :], wall)

    def _receive_each(self, frames: list[Any], wall: datetime) -> None:
        # Frame by frame with the dialect's whole decoder: quotes gathered into runs
        # between the other frames, which are dispatched in their place.
        decode = self.dialect.decode
        quote_type: Any = self.dialect.quote_type  # Any: no narrowing of the decoded frame
        quotes: list[Any] = []
        event: Any
        for data in frames:
            try:
                event = decode(data)
            except (msgspec.DecodeError, RecursionError):
                event = self._decode_slowly(data)
                if event is None:
                    continue
            if type(event) is quote_type:
                quotes.append(event)
                continue
            if quotes:
                self._route_quote_frames(quotes)
                quotes = []
            self._dispatch(event, wall)
        if quotes:
            self._route_quote_frames(quotes)

    def _route_quote_frames(self, frames: list[Any]) -> None:
        """Count decoded quote frames and hand their quotes on in order, a run per
        account and symbol."""
        self.counters.quote_frames += len(frames)
        first = frames[0]
        symbol, wire = first.data.symbol, first.account_id  # wire: "" when implied
        route, implied = self.quotes.route, self.account_id
        run: list[Quote] = []
        for frame in frames:
            quote = frame.data
            if quote.symbol != symbol or frame.account_id != wire:
                route(wire or implied, symbol, run)
                run = []
                symbol, wire = quote.symbol, frame.account_id
            run.append(quote)  # as a method call: the interpreter specialises list.append
        route(wire or implied, symbol, run)

    def _decode_slowly(self, data: Any) -> Any:
        try:
            return self.dialect.decode_slowly(data)
        except (ProtocolError, RecursionError, ValueError) as exc:
            self.counters.decode_errors += 1
            if self.counters.decode_errors % _MALFORMED_LOG_EVERY == 1:
                text = exc.message if isinstance(exc, ProtocolError) else type(exc).__name__
                log.warning(
                    "skipping a malformed stream frame (%d so far): %s",
                    self.counters.decode_errors,
                    text,
                )
            return None

    def _dispatch(self, event: Any, wall: datetime) -> None:
        item = self.dialect.interpret(event)
        match item:
            case None:
                return
            case Acked(correlation=correlation):
                for ticket in self.table.acked_by(correlation):
                    self._actions.append(Resolve(ticket))
            case Refused(correlation=correlation, code=code, message=message):
                refusal = self.table.refused_by(correlation, code, message)
                if refusal is not None:
                    self._refused(refusal)
                else:  # it answers no request of ours: a stream-level error
                    self.counters.notices += 1
                    log.warning("stream error from the server: %s %s", code, message)
            case Notice(code=code, message=message):
                self.counters.notices += 1
                log.warning("stream error from the server: %s %s", code, message)
            case ServerDropped(count=count):
                self.counters.server_dropped += count
                log.warning("the server dropped %d messages for this slow client", count)
            case UnknownEvent():
                self.counters.unknown_events += 1
                deliver_unknown(self.feeds, item)
            case Bar(account_id=account, symbol=symbol, timeframe=timeframe):
                self.deliver_topic(Topic(account, "bars", f"{symbol}:{timeframe}"), item)
            case TerminalStatus(account_id=account):
                self.deliver_topic(Topic(account, "terminal"), item)
            case PositionsSnapshot(account_id=account):
                self.deliver_topic(Topic(account, "positions"), item)
                self._to_feed(account, item, wall)
            case _:
                self._to_feed(getattr(item, "account_id", "") or self.account_id, item, wall)

    def _to_feed(self, account_id: str, item: Any, wall: datetime) -> None:
        feed = self.feeds.get(account_id)
        if feed is not None and feed.on_event(item, wall):
            self._recover(account_id)
