"""Server-side subscriptions: reference counts, requests in flight, the replay plan.

Local consumers come and go; the server is asked for a topic when its first
consumer arrives and told to drop it when its last one leaves. A request is
settled when every message it needed is acknowledged; a consumer that joins
a topic whose request is still in flight waits on that request too.

When the connection drops, requests still in flight are sent again on the
next connection, and every topic the server had acknowledged is replayed as
its own request (with nobody waiting on it). A refusal of such a replay ends
that topic's consumers; a refusal of a fresh request answers its waiters.

Answers are matched by correlation, first in first out: a dialect whose acks
carry a request id gives every message its own correlation; one whose acks
only name the topic gives the topic, and the oldest message of that topic
awaiting an answer is the one answered.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from .._exceptions import SubscriptionRefusedError
from .dialect import Correlation, StreamDialect, Topic, WireMessage

__all__ = ["Refusal", "Request", "SubscriptionTable"]


@dataclass(eq=False, slots=True)
class Request:
    """Topics asked for together, the tickets waiting on them, the acks still owed."""

    topics: tuple[Topic, ...]
    tickets: list[int] = field(default_factory=list)
    owed: Counter[Correlation] = field(default_factory=Counter)

    @property
    def replay(self) -> bool:
        """A replay of acknowledged topics: nobody waits on it."""
        return not self.tickets


@dataclass(frozen=True, slots=True)
class Refusal:
    """The server refused ``request``: ``error`` carries its code and text."""

    request: Request
    error: SubscriptionRefusedError


class SubscriptionTable:
    """Reference counts per topic, and the requests the server still owes an answer."""

    def __init__(self, dialect: StreamDialect) -> None:
        self._dialect = dialect
        self.ids: Iterator[int] = itertools.count(1)
        self.refs: Counter[Topic] = Counter()
        self.acked: set[Topic] = set()
        self._by_topic: dict[Topic, Request] = {}
        # correlation -> the requests awaiting an answer with it, oldest first
        self._by_correlation: dict[Correlation, deque[Request]] = {}
        self._unsent: list[Request] = []
        self._tickets = itertools.count(1)
        #: ticket -> requests it still waits for (settled tickets are removed)
        self.waiting: dict[int, int] = {}

    # -------------------------------------------------------------- consumers

    def acquire(self, topics: list[Topic], online: bool) -> tuple[int | None, list[WireMessage]]:
        """Count one more consumer of ``topics``.

        Returns the ticket to wait on (``None`` when everything is already
        acknowledged) and the messages to send now (none while offline: they
        go out when the connection is made).
        """
        new: list[Topic] = []
        joined: set[int] = set()
        joined_requests: list[Request] = []
        for topic in topics:
            self.refs[topic] += 1
            if self.refs[topic] == 1:
                new.append(topic)
            elif topic not in self.acked:
                request = self._by_topic.get(topic)
                if request is not None and id(request) not in joined:
                    joined.add(id(request))
                    joined_requests.append(request)
        if not new and not joined_requests:
            return None, []
        ticket = next(self._tickets)
        messages: list[WireMessage] = []
        if new:
            request = Request(tuple(new), [ticket])
            for topic in new:
                self._by_topic[topic] = request
            messages = self._issue(request, online)
            joined_requests.append(request)
        for request in joined_requests:
            if request.tickets[-1:] != [ticket]:
                request.tickets.append(ticket)
        self.waiting[ticket] = len(joined_requests)
        return ticket, messages

    def release(self, topics: list[Topic], online: bool) -> list[bytes]:
        """Count one consumer fewer; return the unsubscribes to send for topics now unused."""
        gone = []
        for topic in topics:
            self.refs[topic] -= 1
            if self.refs[topic] > 0:
                continue
            del self.refs[topic]
            was_asked = topic in self.acked or topic in self._by_topic
            self.acked.discard(topic)
            self._by_topic.pop(topic, None)
            if was_asked:
                gone.append(topic)
        if not gone or not online:
            return []
        return self._dialect.unsubscribe(gone, self.ids)

    def abandon(self, ticket: int) -> None:
        """Nobody waits on ``ticket`` any more (timed out or cancelled)."""
        self.waiting.pop(ticket, None)

    # ---------------------------------------------------------------- answers

    def acked_by(self, correlation: Correlation) -> list[int]:
        """Record an acknowledgement; return the tickets it settles."""
        request = self._answered(correlation)
        if request is None:
            return []  # an unsubscribe's ack, or a request already given up
        request.owed[correlation] -= 1
        if +request.owed:
            return []
        for topic in request.topics:
            if self._by_topic.get(topic) is request:
                del self._by_topic[topic]
            if self.refs[topic] > 0:
                self.acked.add(topic)
        return self._settle(request)

    def refused_by(self, correlation: Correlation, code: str, message: str) -> Refusal | None:
        """Record a refusal; ``None`` when it answers nothing we are waiting for."""
        request = self._answered(correlation)
        if request is None:
            return None
        request.owed[correlation] -= 1
        for other in +request.owed:
            waiting = self._by_correlation.get(other)
            if waiting is not None:
                for _ in range(request.owed[other]):
                    waiting.remove(request)
                if not waiting:
                    del self._by_correlation[other]
        request.owed.clear()
        for topic in request.topics:
            if self._by_topic.get(topic) is request:
                del self._by_topic[topic]
            self.acked.discard(topic)
        if request.replay:
            what = ", ".join(_describe(t) for t in request.topics)
            text = f"after reconnecting, the server refused {what}: {message}"
        else:
            text = message
        return Refusal(request, SubscriptionRefusedError(text, code=code))

    def settle(self, request: Request) -> list[int]:
        """The tickets of ``request`` that are now settled (their last request answered)."""
        return self._settle(request)

    def _settle(self, request: Request) -> list[int]:
        settled = []
        for ticket in request.tickets:
            left = self.waiting.get(ticket)
            if left is None:
                continue
            if left <= 1:
                del self.waiting[ticket]
                settled.append(ticket)
            else:
                self.waiting[ticket] = left - 1
        return settled

    # ------------------------------------------------------------- connection

    def connection_lost(self) -> None:
        """Requests in flight will be sent again; replays are planned afresh."""
        pending = {
            id(r): r for waiting in self._by_correlation.values() for r in waiting if not r.replay
        }
        self._by_correlation.clear()
        for request in pending.values():
            request.owed.clear()
            self._unsent.append(request)

    def replay_plan(self) -> list[WireMessage]:
        """Everything to send on a new connection: acknowledged topics, then unsent requests."""
        live = sorted((t for t in self.acked if self.refs[t] > 0), key=_order)
        messages = self._dialect.subscribe(live, self.ids) if live else []
        for message in messages:
            # One request per message: a refusal ends only the topics it names.
            replay = Request(message.topics)
            self._expect(message.correlation, replay)
        unsent, self._unsent = self._unsent, []
        for request in unsent:
            request.topics = tuple(t for t in request.topics if self.refs[t] > 0)
            if request.topics:
                messages += self._issue(request, online=True)
        return messages

    def _issue(self, request: Request, online: bool) -> list[WireMessage]:
        if not online:
            self._unsent.append(request)
            return []
        messages = self._dialect.subscribe(request.topics, self.ids)
        for message in messages:
            self._expect(message.correlation, request)
        return messages

    def _expect(self, correlation: Correlation, request: Request) -> None:
        self._by_correlation.setdefault(correlation, deque()).append(request)
        request.owed[correlation] += 1

    def _answered(self, correlation: Correlation) -> Request | None:
        """The oldest request awaiting an answer with ``correlation`` (now answered)."""
        waiting = self._by_correlation.get(correlation)
        if not waiting:
            return None
        request = waiting.popleft()
        if not waiting:
            del self._by_correlation[correlation]
        return request

    def requests_in_flight(self) -> int:
        """Requests sent and not yet answered, plus those waiting for a connection."""
        awaited = {id(r) for waiting in self._by_correlation.values() for r in waiting}
        return len(awaited) + len(self._unsent)


def _order(topic: Topic) -> tuple[str, str, str]:
    return topic.account_id, topic.kind, topic.symbol or ""


def _describe(topic: Topic) -> str:
    if topic.kind == "quotes":
        return f"quotes of {topic.symbol} for {topic.account_id}"
    return f"events of {topic.account_id}"
