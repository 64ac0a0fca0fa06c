"""One account's events feed: its phase, its ``seq`` anchor, and gaps.

Every per-account event (order lifecycle, balances, status) passes through
its account's ``AccountFeed`` and ``OrderBook`` before it reaches a consumer.
The feed is an explicit state machine:

- ``SEEDING``: subscribed, the REST seed not read yet; live events are held.
- ``LIVE``: delivering; the last ``seq`` was seen on this connection.
- ``UNANCHORED``: delivering, but with no trustworthy ``seq`` to compare with
  (just seeded or recovered, and no numbered event since): the next numbered
  event is held and checked against REST.
- ``RECOVERING``: a gap is being rebuilt from REST; live events are held.

Gaps: a reconnect is announced at once (``StreamGap(reason="reconnect")``);
a ``seq`` jump only once its recovery finds something (``"seq_jump"``); a
``seq`` that goes backwards on a new connection means the server restarted
its numbering, and is announced at once (``"restart"``). Within one
connection a ``seq`` at or below the last one is a duplicate and is dropped.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .actions import EventSink
from .counters import Counters
from .events import StreamGap, UnknownEvent
from .recovery import OrderBook, Snapshot, reconcile

__all__ = ["AccountFeed", "GapReason", "Phase", "deliver_unknown", "gap"]


class Phase(enum.Enum):
    SEEDING = "seeding"
    LIVE = "live"
    UNANCHORED = "unanchored"
    RECOVERING = "recovering"


class GapReason(enum.StrEnum):
    RECONNECT = "reconnect"
    SEQ_JUMP = "seq_jump"
    RESTART = "restart"


def gap(account_id: str, reason: GapReason, started: datetime, ended: datetime) -> StreamGap:
    return StreamGap(
        accounts=(account_id,),
        started_at=started,
        ended_at=ended,
        duration=(ended - started).total_seconds(),
        reason=str(reason),
    )


@dataclass(eq=False, slots=True)
class AccountFeed:
    """The consumers of one account's events and what they have been told."""

    book: OrderBook
    counters: Counters
    numbered: bool  # does the dialect number events with seq?
    sinks: list[EventSink] = field(default_factory=list)
    phase: Phase = Phase.SEEDING
    held: list[Any] = field(default_factory=list)
    #: The highest seq accepted; ``anchored`` says whether it was seen on this connection.
    last_seq: int | None = None
    anchored: bool = False
    #: A further gap met while seeding or recovering: look again afterwards.
    again: StreamGap | None = None
    #: A seq-jump gap, announced only once its recovery finds something.
    unannounced: StreamGap | None = None

    @property
    def account_id(self) -> str:
        return self.book.account_id

    # ----------------------------------------------------------------- events

    def on_event(self, event: Any, now: datetime) -> bool:
        """Take one live event; return ``True`` when a recovery must start."""
        seq = event.seq if self.numbered else None
        if seq is not None:
            duplicate, revealed = self._check_seq(seq, now)
            if duplicate:
                return False
            if revealed is not None:
                self.held.append(event)
                return self._begin_recovery(revealed)
        if self.phase in (Phase.SEEDING, Phase.RECOVERING):
            self.held.append(event)
        else:
            self.deliver(event)
        return False

    def _check_seq(self, seq: int, now: datetime) -> tuple[bool, StreamGap | None]:
        # (a duplicate?, the gap this seq reveals); (False, None): deliver or hold as usual.
        last = self.last_seq
        holding = self.phase in (Phase.SEEDING, Phase.RECOVERING)
        if self.anchored:
            assert last is not None
            if seq <= last:
                return True, None
            self.last_seq = seq
            if seq > last + 1:
                jump = gap(self.account_id, GapReason.SEQ_JUMP, now, now)
                if holding:
                    self.again = self.again or jump  # the recovery under way looks again
                    return False, None
                return False, jump
            return False, None
        self.anchored, self.last_seq = True, seq
        if holding:
            return False, None  # the seed or the recovery under way covers what came before
        if last is not None and seq <= last:
            return False, gap(self.account_id, GapReason.RESTART, now, now)
        # UNANCHORED: events may have been missed before this one; check quietly.
        return False, gap(self.account_id, GapReason.SEQ_JUMP, now, now)

    def deliver(self, item: Any) -> None:
        """Through the book, to every consumer: a duplicate goes nowhere."""
        if self.book.apply(item):
            for sink in self.sinks:
                sink.push(item)

    def push_gap(self, announced: StreamGap) -> None:
        self.counters.gaps += 1
        for sink in self.sinks:
            sink.push(announced)

    # -------------------------------------------------------------- lifecycle

    def connection_lost(self) -> None:
        self.anchored = False

    def reconnected(self, announced: StreamGap) -> bool:
        """The connection came back: return ``True`` when a recovery must start."""
        self.anchored = False
        return self._begin_recovery(announced)

    def on_status(self, change: Any) -> None:
        """A status change seen elsewhere (the account watcher): held or delivered."""
        if self.phase in (Phase.SEEDING, Phase.RECOVERING):
            self.held.append(change)
        else:
            self.deliver(change)

    def seeded(self, snapshot: Snapshot) -> bool:
        """The seed was read; return ``True`` when a recovery must start."""
        if self.phase is not Phase.SEEDING:
            return False
        self.book.seed(snapshot, self.held)
        self._release()
        pending, self.again = self.again, None
        return pending is not None and self._begin_recovery(pending)

    def recovered(self, snapshot: Snapshot) -> bool:
        """A recovery snapshot was read; return ``True`` when another must start."""
        if self.phase is not Phase.RECOVERING:
            return False
        book = self.book
        for event in reconcile(book, snapshot, self.held):
            if book.apply(event):
                if self.unannounced is not None:
                    self.push_gap(self.unannounced)
                    self.unannounced = None
                self.counters.recovered_events += 1
                for sink in self.sinks:
                    sink.push(event)
        book.advance(snapshot.history, self.held)
        pending, self.again = self.again, None
        if pending is not None:
            self._announce(pending)
            return True
        self.unannounced = None
        self._release()
        return False

    def _begin_recovery(self, reason: StreamGap) -> bool:
        if self.phase in (Phase.SEEDING, Phase.RECOVERING):
            self.again = reason if self.again is None or reason.reason != "seq_jump" else self.again
            return False
        self.phase = Phase.RECOVERING
        self._announce(reason)
        return True

    def _announce(self, reason: StreamGap) -> None:
        if reason.reason == GapReason.SEQ_JUMP:
            self.unannounced = reason
        else:
            self.unannounced = None
            self.push_gap(reason)

    def _release(self) -> None:
        held, self.held = self.held, []
        for event in held:
            self.deliver(event)
        if not self.numbered or self.anchored:
            self.phase = Phase.LIVE
        else:
            self.phase = Phase.UNANCHORED

    def fail(self, error: Any) -> None:
        for sink in self.sinks:
            sink.fail(error)


def deliver_unknown(feeds: dict[str, AccountFeed], event: UnknownEvent) -> None:
    """An unknown event goes to its account's consumers that want it (every account's
    when it names none we know)."""
    account_id = event.raw.get("account_id")
    if isinstance(account_id, str) and account_id in feeds:
        targets = [feeds[account_id]]
    else:
        targets = list(feeds.values())
    for feed in targets:
        for sink in feed.sinks:
            if sink.include_unknown:
                sink.push(event)


class Feeds(dict[str, AccountFeed]):
    """The events feeds of one socket, by account."""

    def needing_recovery_after_reconnect(self, down_since: datetime, wall: datetime) -> list[str]:
        """Every feed learns of the reconnect; return the accounts that must recover now."""
        return [
            feed.account_id
            for feed in list(self.values())
            if feed.reconnected(gap(feed.account_id, GapReason.RECONNECT, down_since, wall))
        ]

    def seeded(self, account_id: str, snapshot: Snapshot) -> bool:
        """Hand a seed to its feed; ``True`` when a recovery must start."""
        feed = self.get(account_id)
        return feed is not None and feed.seeded(snapshot)

    def recovered(self, account_id: str, snapshot: Snapshot) -> bool:
        """Hand a recovery snapshot to its feed; ``True`` when another recovery must start."""
        feed = self.get(account_id)
        return feed is not None and feed.recovered(snapshot)

    def recovering(self, account_id: str) -> bool:
        feed = self.get(account_id)
        return feed is not None and feed.phase is Phase.RECOVERING

    def sinks(self) -> list[EventSink]:
        return [sink for feed in self.values() for sink in feed.sinks]
