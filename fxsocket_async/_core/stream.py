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

import enum
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import msgspec

from .._exceptions import FxSocketError, ProtocolError
from .actions import Action, Close, EventSink, QuoteSink, Recover, Resolve, Send, SendPing
from .counters import Counters
from .dialect import Acked, Notice, Refused, ServerDropped, StreamDialect, Topic
from .events import AccountStatusChanged, UnknownEvent
from .feeds import AccountFeed, Feeds, deliver_unknown
from .liveness import Liveness
from .models import Quote
from .recovery import OrderBook, Snapshot
from .routing import QuoteRoutes
from .subscriptions import Refusal, SubscriptionTable

__all__ = ["LinkState", "StreamProtocol"]

log = logging.getLogger("fxsocket_async.stream")

_MALFORMED_LOG_EVERY: Final = 1000


class LinkState(enum.Enum):
    """The connection as the protocol knows it."""

    IDLE = "idle"  # never connected
    OPEN = "open"
    DOWN = "down"  # lost; the I/O layer is reconnecting
    FAILED = "failed"  # fatal: nothing will be sent again


class StreamProtocol:
    """What one stream socket must do; see the module docstring."""

    def __init__(
        self,
        dialect: StreamDialect,
        *,
        ping_interval: float,
        dead_after: float,
        quote_silence: float | None,
        account_id: str | None = None,
    ) -> None:
        self.dialect = dialect
        #: The account a per-account socket serves (quote frames may omit it).
        self.account_id = account_id or ""
        self.state = LinkState.IDLE
        self.fatal: FxSocketError | None = None
        self.table = SubscriptionTable(dialect)
        self.liveness = Liveness(ping_interval, dead_after, quote_silence)
        self.feeds = Feeds()
        self.quotes = QuoteRoutes()
        self._actions: list[Action] = []
        self._down_since: datetime | None = None
        self.counters = Counters()

    def __repr__(self) -> str:
        return f"StreamProtocol({self.dialect.name}, {self.state.value})"

    def take_actions(self) -> list[Action]:
        """The actions queued since the last call, oldest first."""
        actions = self._actions
        if actions:
            self._actions = []
        return actions

    @property
    def online(self) -> bool:
        return self.state is LinkState.OPEN

    # -------------------------------------------------------------- connection

    def connection_made(self, wall: datetime, now: float) -> None:
        """The socket is open: replay what the server must know; a reconnect is a gap."""
        was_down, self._down_since = self._down_since, None
        self.state = LinkState.OPEN
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
        self.table.connection_lost()
        for feed in self.feeds.values():
            feed.connection_lost()

    def failed(self, error: FxSocketError) -> None:
        """The stream cannot be (re)opened: end every consumer and waiter with ``error``."""
        self.state = LinkState.FAILED
        self.fatal = error
        for ticket in list(self.table.waiting):
            self.table.abandon(ticket)
            self._actions.append(Resolve(ticket, error))
        for sink in self.sinks():
            sink.fail(error)

    def tick(self, now: float, *, market_open: bool) -> None:
        """A liveness tick at monotonic ``now``: maybe ping, maybe declare the socket dead."""
        if self.state is not LinkState.OPEN:
            return
        verdict = self.liveness.tick(now, self.counters, bool(self.quotes), market_open)
        if verdict.dead is not None:
            self._actions.append(Close(verdict.dead))
        elif verdict.ping:
            frame = self.dialect.ping(next(self.table.ids))
            self._actions.append(SendPing() if frame is None else Send(frame))

    # ------------------------------------------------------------------ frames

    def receive_frames(self, frames: list[Any], wall: datetime) -> None:
        """Decode and route frames (``wall``: when they were read): quotes in runs,
        everything else one by one. A frame that cannot be decoded is counted and
        skipped; it never ends the stream."""
        if not frames:
            return
        self.counters.frames += len(frames)
        self.counters.bytes += sum(map(len, frames))
        decode = self.dialect.decode
        quote_type: Any = self.dialect.quote_type  # Any: no narrowing of the decoded frame
        implied = self.account_id
        route = self.quotes.route
        run: list[Quote] = []
        extend = run.append
        run_account = run_symbol = ""
        others = 0
        event: Any
        for data in frames:
            try:
                event = decode(data)
            except (msgspec.DecodeError, RecursionError):
                event = self._decode_slowly(data)
                if event is None:
                    others += 1
                    continue
            if type(event) is quote_type:
                quote = event.data
                account = event.account_id or implied
                if quote.symbol != run_symbol or account != run_account:
                    if run:
                        route(run_account, run_symbol, run)
                        run = []
                        extend = run.append
                    run_account, run_symbol = account, quote.symbol
                extend(quote)
            else:
                others += 1
                if run:
                    route(run_account, run_symbol, run)
                    run = []
                    extend = run.append
                self._dispatch(event, wall)
        if run:
            route(run_account, run_symbol, run)
        self.counters.quote_frames += len(frames) - others

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
            case Notice(code=code, message=message):
                self.counters.notices += 1
                log.warning("stream error from the server: %s %s", code, message)
            case ServerDropped(count=count):
                self.counters.server_dropped += count
                log.warning("the server dropped %d messages for this slow client", count)
            case UnknownEvent():
                self.counters.unknown_events += 1
                deliver_unknown(self.feeds, item)
            case _:
                feed = self.feeds.get(getattr(item, "account_id", "") or self.account_id)
                if feed is not None and feed.on_event(item, wall):
                    self._recover(feed.account_id)

    def _refused(self, refusal: Refusal) -> None:
        request, error = refusal.request, refusal.error
        if not request.replay:
            for ticket in request.tickets:
                if ticket in self.table.waiting:
                    self.table.abandon(ticket)
                    self._actions.append(Resolve(ticket, error))
            return
        log.warning("%s", error.message)
        for topic in request.topics:
            if topic.kind == "quotes":
                self._end_quote_topic(topic, error)
            else:
                self.end_events(topic.account_id, error, send=False)

    def _end_quote_topic(self, topic: Topic, error: FxSocketError) -> None:
        for sink in self.quotes.drop(topic.account_id, topic.symbol or ""):
            sink.fail(error)
            self._retire(sink)
            self.table.release([topic], online=False)

    # --------------------------------------------------------------- consumers

    def add_quotes(self, account_id: str, symbols: Sequence[str], sink: QuoteSink) -> int | None:
        """Route ``symbols`` of ``account_id`` to ``sink``; subscribe what is new.

        Returns the ticket whose ``Resolve`` says the server acknowledged (or
        refused) it, or ``None`` when nothing is awaited.
        """
        self.quotes.add(account_id, symbols, sink)
        topics = [Topic(account_id, "quotes", s) for s in symbols]
        ticket, messages = self.table.acquire(topics, self.online)
        self._actions.extend(Send(m.frame) for m in messages)
        return ticket

    def remove_quotes(
        self, account_id: str, symbols: Sequence[str], sink: QuoteSink, *, send: bool = True
    ) -> None:
        """Stop routing to ``sink``; unsubscribe the symbols nobody needs any more."""
        had = self.quotes.remove(account_id, symbols, sink)
        self._retire(sink)
        held = [Topic(account_id, "quotes", symbol) for symbol in had]
        frames = self.table.release(held, self.online and send)
        self._actions.extend(Send(f) for f in frames)

    def add_events(self, account_id: str, sink: EventSink) -> int | None:
        """Route ``account_id``'s events to ``sink``.

        The first consumer of an account subscribes it: wait for the returned
        ticket, then read the seed snapshot and call ``seeded``. Later
        consumers join at once (``None``).
        """
        feed = self.feeds.get(account_id)
        if feed is not None:
            feed.sinks.append(sink)
            return None
        numbered = self.dialect.events_carry_seq
        self.feeds[account_id] = AccountFeed(OrderBook(account_id), self.counters, numbered, [sink])
        ticket, messages = self.table.acquire([Topic(account_id, "events")], self.online)
        self._actions.extend(Send(m.frame) for m in messages)
        return ticket

    def seeded(self, account_id: str, snapshot: Snapshot) -> None:
        """The seed of a new events feed was read: deliver what was held."""
        if self.feeds.seeded(account_id, snapshot):
            self._recover(account_id)

    def recovered(self, account_id: str, snapshot: Snapshot) -> None:
        """A ``Recover`` snapshot was read: deliver what the gap hid, then what was held."""
        if self.feeds.recovered(account_id, snapshot):
            self._recover(account_id)

    def recovering(self, account_id: str) -> bool:
        """Whether a recovery of ``account_id`` still waits for its snapshot."""
        return self.feeds.recovering(account_id)

    def remove_events(self, account_id: str, sink: EventSink, *, send: bool = True) -> None:
        """Stop delivering to ``sink``; the last consumer of an account unsubscribes it."""
        feed = self.feeds.get(account_id)
        if feed is None:
            return
        if sink in feed.sinks:
            feed.sinks.remove(sink)
        self._retire(sink)
        if not feed.sinks:
            self.end_events(account_id, None, send=send)

    def end_events(self, account_id: str, error: FxSocketError | None, *, send: bool) -> None:
        """End every consumer of ``account_id``'s events (with ``error``: a failed seed...)."""
        feed = self.feeds.pop(account_id, None)
        if feed is None:
            return
        for sink in feed.sinks:
            if error is not None:
                sink.fail(error)
            self._retire(sink)
        frames = self.table.release([Topic(account_id, "events")], self.online and send)
        self._actions.extend(Send(f) for f in frames)

    def abandon(self, ticket: int) -> None:
        """The waiter of ``ticket`` gave up (timed out or was cancelled)."""
        self.table.abandon(ticket)

    def status_changed(self, change: AccountStatusChanged) -> None:
        """A status change seen elsewhere (the account watcher) joins the feed."""
        feed = self.feeds.get(change.account_id)
        if feed is not None:
            feed.on_status(change)

    def _recover(self, account_id: str) -> None:
        self._actions.append(Recover(account_id, self.feeds[account_id].book.watermark))

    # ------------------------------------------------------------------- stats

    def _retire(self, sink: QuoteSink | EventSink) -> None:
        self.counters.retired_conflated += getattr(sink, "conflated", 0)
        self.counters.retired_dropped += sink.dropped

    def sinks(self) -> list[QuoteSink | EventSink]:
        """Every consumer of this socket."""
        return [*self.quotes.sinks(), *self.feeds.sinks()]
