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
from .dialect import Acked, Notice, Refused, ServerDropped, StreamDialect, Topic
from .events import AccountStatusChanged, UnknownEvent
from .feeds import AccountFeed, Counters, GapReason, Phase, gap
from .liveness import Liveness
from .models import Quote
from .recovery import OrderBook, Snapshot
from .subscriptions import Refusal, SubscriptionTable

__all__ = ["LinkState", "StreamProtocol"]

log = logging.getLogger("fxsocket_async.stream")

#: The most frames the reader takes in a burst before it flushes and yields.
FLUSH_EVERY: Final = 512
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
        self.feeds: dict[str, AccountFeed] = {}
        # account -> symbol -> sinks: the quote hot path's one lookup.
        self.quote_routes: dict[str, dict[str, list[QuoteSink]]] = {}
        self._actions: list[Action] = []
        self._down_since: datetime | None = None
        self.counters = Counters()
        self.frames = self.bytes = self.quote_frames = 0
        self.decode_errors = self.unknown_events = self.reconnects = 0
        self.notices = self.server_dropped = 0
        self.retired_conflated = self.retired_dropped = 0
        self.flush_every = FLUSH_EVERY

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
        self.liveness.start(now, self.frames, self.quote_frames)
        for message in self.table.replay_plan():
            self._actions.append(Send(message.frame))
        if was_down is None:
            return
        self.reconnects += 1
        for feed in list(self.feeds.values()):
            if feed.reconnected(gap(feed.account_id, GapReason.RECONNECT, was_down, wall)):
                self._recover(feed)

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
        verdict = self.liveness.tick(
            now,
            self.frames,
            self.quote_frames,
            quotes_wanted=bool(self.quote_routes),
            market_open=market_open,
        )
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
        self.frames += len(frames)
        self.bytes += sum(map(len, frames))
        decode = self.dialect.decode
        quote_type: Any = self.dialect.quote_type  # Any: no narrowing of the decoded frame
        implied = self.account_id
        route = self._route_quotes
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
        self.quote_frames += len(frames) - others

    def _route_quotes(self, account_id: str, symbol: str, quotes: list[Quote]) -> None:
        by_symbol = self.quote_routes.get(account_id)
        if by_symbol is not None:
            for sink in by_symbol.get(symbol, ()):
                sink.push_many(quotes)

    def _decode_slowly(self, data: Any) -> Any:
        try:
            return self.dialect.decode_slowly(data)
        except (ProtocolError, RecursionError, ValueError) as exc:
            self.decode_errors += 1
            if self.decode_errors % _MALFORMED_LOG_EVERY == 1:
                text = exc.message if isinstance(exc, ProtocolError) else type(exc).__name__
                log.warning(
                    "skipping a malformed stream frame (%d so far): %s", self.decode_errors, text
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
                self.notices += 1
                log.warning("stream error from the server: %s %s", code, message)
            case ServerDropped(count=count):
                self.server_dropped += count
                log.warning("the server dropped %d messages for this slow client", count)
            case UnknownEvent():
                self.unknown_events += 1
                self._deliver_unknown(item)
            case _:
                feed = self.feeds.get(getattr(item, "account_id", "") or self.account_id)
                if feed is not None and feed.on_event(item, wall):
                    self._recover(feed)

    def _deliver_unknown(self, event: UnknownEvent) -> None:
        account_id = event.raw.get("account_id")
        if isinstance(account_id, str) and account_id in self.feeds:
            feeds = [self.feeds[account_id]]
        else:
            feeds = list(self.feeds.values())
        for feed in feeds:
            for sink in feed.sinks:
                if sink.include_unknown:
                    sink.push(event)

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
                self._end_feed(topic.account_id, error, send=False)

    def _end_quote_topic(self, topic: Topic, error: FxSocketError) -> None:
        by_symbol = self.quote_routes.get(topic.account_id, {})
        for sink in by_symbol.pop(topic.symbol or "", []):
            sink.fail(error)
            self._retire(sink)
            self.table.release([topic], online=False)
        if not by_symbol:
            self.quote_routes.pop(topic.account_id, None)
        self._resize()

    # --------------------------------------------------------------- consumers

    def add_quotes(self, account_id: str, symbols: Sequence[str], sink: QuoteSink) -> int | None:
        """Route ``symbols`` of ``account_id`` to ``sink``; subscribe what is new.

        Returns the ticket whose ``Resolve`` says the server acknowledged (or
        refused) it, or ``None`` when nothing is awaited.
        """
        by_symbol = self.quote_routes.setdefault(account_id, {})
        for symbol in symbols:
            by_symbol.setdefault(symbol, []).append(sink)
        self._resize()
        topics = [Topic(account_id, "quotes", s) for s in symbols]
        ticket, messages = self.table.acquire(topics, self.online)
        self._actions.extend(Send(m.frame) for m in messages)
        return ticket

    def remove_quotes(
        self, account_id: str, symbols: Sequence[str], sink: QuoteSink, *, send: bool = True
    ) -> None:
        """Stop routing to ``sink``; unsubscribe the symbols nobody needs any more."""
        by_symbol = self.quote_routes.get(account_id, {})
        held = []
        for symbol in symbols:
            sinks = by_symbol.get(symbol)
            if sinks is not None and sink in sinks:
                sinks.remove(sink)
                held.append(Topic(account_id, "quotes", symbol))
                if not sinks:
                    del by_symbol[symbol]
        if not by_symbol:
            self.quote_routes.pop(account_id, None)
        self._retire(sink)
        self._resize()
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
        feed = AccountFeed(
            OrderBook(account_id), self.counters, numbered=self.dialect.events_carry_seq
        )
        feed.sinks.append(sink)
        self.feeds[account_id] = feed
        ticket, messages = self.table.acquire([Topic(account_id, "events")], self.online)
        self._actions.extend(Send(m.frame) for m in messages)
        return ticket

    def seeded(self, account_id: str, snapshot: Snapshot) -> None:
        """The seed of a new events feed was read: deliver what was held."""
        feed = self.feeds.get(account_id)
        if feed is not None and feed.phase is Phase.SEEDING and feed.seeded(snapshot):
            self._recover(feed)

    def recovered(self, account_id: str, snapshot: Snapshot) -> None:
        """A ``Recover`` snapshot was read: deliver what the gap hid, then what was held."""
        feed = self.feeds.get(account_id)
        if feed is not None and feed.phase is Phase.RECOVERING and feed.recovered(snapshot):
            self._recover(feed)

    def recovering(self, account_id: str) -> bool:
        """Whether a recovery of ``account_id`` still waits for its snapshot."""
        feed = self.feeds.get(account_id)
        return feed is not None and feed.phase is Phase.RECOVERING

    def remove_events(self, account_id: str, sink: EventSink, *, send: bool = True) -> None:
        """Stop delivering to ``sink``; the last consumer of an account unsubscribes it."""
        feed = self.feeds.get(account_id)
        if feed is None:
            return
        if sink in feed.sinks:
            feed.sinks.remove(sink)
        self._retire(sink)
        if not feed.sinks:
            self._end_feed(account_id, None, send=send)

    def end_events(self, account_id: str, error: FxSocketError, *, send: bool) -> None:
        """End every consumer of ``account_id``'s events with ``error`` (a failed seed...)."""
        self._end_feed(account_id, error, send=send)

    def _end_feed(self, account_id: str, error: FxSocketError | None, *, send: bool) -> None:
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
        if feed is None:
            return
        if feed.phase in (Phase.SEEDING, Phase.RECOVERING):
            feed.held.append(change)
        else:
            feed.deliver(change)

    def _recover(self, feed: AccountFeed) -> None:
        self._actions.append(Recover(feed.account_id, feed.book.watermark))

    # ------------------------------------------------------------------- stats

    def _resize(self) -> None:
        # The reader flushes at least twice per smallest quote buffer, so a
        # consumer that is always ready never finds its buffer full.
        smallest = min((s.capacity for s in self.quote_sinks()), default=2 * FLUSH_EVERY)
        self.flush_every = max(1, min(FLUSH_EVERY, smallest // 2))

    def _retire(self, sink: QuoteSink | EventSink) -> None:
        self.retired_conflated += getattr(sink, "conflated", 0)
        self.retired_dropped += sink.dropped

    def quote_sinks(self) -> list[QuoteSink]:
        """Every quote consumer, once each."""
        unique: dict[int, QuoteSink] = {}
        for by_symbol in self.quote_routes.values():
            for sinks in by_symbol.values():
                for sink in sinks:
                    unique[id(sink)] = sink
        return list(unique.values())

    def sinks(self) -> list[QuoteSink | EventSink]:
        """Every consumer of this socket."""
        found: list[QuoteSink | EventSink] = list(self.quote_sinks())
        for feed in self.feeds.values():
            found.extend(feed.sinks)
        return found
