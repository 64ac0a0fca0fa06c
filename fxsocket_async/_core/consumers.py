"""The consumers' side of a stream socket: who gets what, and what the server must know.

``Consumers`` is the half of ``StreamProtocol`` that local consumers talk to:
they come and go (``add_quotes``, ``add_events``...), the table of server
subscriptions follows them, their feeds take seeds and recovery snapshots,
and refusals end exactly the consumers they concern. Sans-I/O: it queues
actions like the rest of the protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .._exceptions import FxSocketError
from .actions import Action, EventSink, QuoteSink, Recover, Resolve, Send
from .counters import Counters
from .dialect import StreamDialect, Topic
from .events import AccountStatusChanged
from .feeds import AccountFeed, Feeds
from .recovery import OrderBook, Snapshot
from .routing import QuoteRoutes
from .subscriptions import Refusal, SubscriptionTable

__all__ = ["Consumers"]

log = logging.getLogger("fxsocket_async.stream")


class Consumers:
    """Quote routes, events feeds and server subscriptions of one socket."""

    def __init__(self, dialect: StreamDialect) -> None:
        self.dialect = dialect
        self.table = SubscriptionTable(dialect)
        self.feeds = Feeds()
        self.quotes = QuoteRoutes()
        #: The consumers of the other topics (bars, snapshots, terminal status).
        self.topics: dict[Topic, list[EventSink]] = {}
        self.counters = Counters()
        #: Whether messages can go out now (set by the connection's lifecycle).
        self.online = False
        self._actions: list[Action] = []

    def take_actions(self) -> list[Action]:
        """The actions queued since the last call, oldest first."""
        actions = self._actions
        if actions:
            self._actions = []
        return actions

    def answer_waiters(self, error: FxSocketError) -> None:
        """Every request still awaited is answered with ``error``."""
        for ticket in list(self.table.waiting):
            self.table.abandon(ticket)
            self._actions.append(Resolve(ticket, error))

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
            elif topic in self.topics:
                for sink in self.topics.pop(topic):
                    sink.fail(error)
                    self._retire(sink)
                    self.table.release([topic], online=False)
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
        topics = self.dialect.event_topics(account_id)
        ticket, messages = self.table.acquire(topics, self.online)
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
        topics = self.dialect.event_topics(account_id)
        frames = self.table.release(topics, self.online and send)
        self._actions.extend(Send(f) for f in frames)

    def add_topic(self, topic: Topic, sink: EventSink) -> int | None:
        """Route what ``topic`` carries (bars, open-orders snapshots, the terminal's
        status) to ``sink``; subscribe it if it is new. Returns the ticket to wait on."""
        self.topics.setdefault(topic, []).append(sink)
        ticket, messages = self.table.acquire([topic], self.online)
        self._actions.extend(Send(m.frame) for m in messages)
        return ticket

    def remove_topic(self, topic: Topic, sink: EventSink, *, send: bool = True) -> None:
        """Stop routing ``topic`` to ``sink``; the last consumer unsubscribes it."""
        sinks = self.topics.get(topic)
        if sinks is None or sink not in sinks:
            return
        sinks.remove(sink)
        if not sinks:
            del self.topics[topic]
        self._retire(sink)
        frames = self.table.release([topic], self.online and send)
        self._actions.extend(Send(f) for f in frames)

    def deliver_topic(self, topic: Topic, item: object) -> None:
        for sink in self.topics.get(topic, ()):
            sink.push(item)

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
        others = [sink for sinks in self.topics.values() for sink in sinks]
        return [*self.quotes.sinks(), *self.feeds.sinks(), *others]
