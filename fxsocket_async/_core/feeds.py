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
from .dialect import DealReport
from .events import (
    OrderClosed,
    OrderClosedData,
    OrderFilled,
    OrderFilledData,
    OrderPartiallyClosed,
    OrderPartiallyClosedData,
    StreamGap,
    UnknownEvent,
)
from .market import PositionsSnapshot
from .recovery import OrderBook, Snapshot, reconcile

_VOLUME_EPSILON = 1e-9
#: Seconds a snapshot dialect's recovery waits, its REST read done, for the socket's
#: own open-orders snapshot before it settles for the REST one.
SNAPSHOT_WAIT = 1.0

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
    #: Partial closes a live snapshot reported before their deal, by order: the
    #: deal, when it comes, is that same partial close and not a whole one.
    reduced: dict[str, list[float]] = field(default_factory=dict)
    #: A snapshot dialect's recovery read from REST, waiting for the socket's snapshot
    #: (``waiting_since``: the monotonic time the wait was first seen by a tick).
    rest_snapshot: Snapshot | None = None
    waiting_since: float | None = None

    @property
    def account_id(self) -> str:
        return self.book.account_id

    # ----------------------------------------------------------------- events

    def on_event(self, event: Any, now: datetime) -> bool:
        """Take one live event; return ``True`` when a recovery must start."""
        if self.rest_snapshot is not None and isinstance(event, PositionsSnapshot):
            self.held.append(event)
            return self._settle(self.rest_snapshot)
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
            self._take(event)
        return False

    def _take(self, item: Any) -> None:
        """One live item: an account event, or what a snapshot-and-deal dialect sends."""
        match item:
            case PositionsSnapshot(positions=positions, pending=pending):
                live = Snapshot(positions=positions, pending=pending, history=[])
                for event in reconcile(self.book, live, recovered=False):
                    if isinstance(event, OrderPartiallyClosed):
                        self.reduced.setdefault(event.data.id, []).append(event.data.volume)
                    self.deliver(event)
            case DealReport():
                event = self._deal(item)
                if event is not None:
                    self.deliver(event)
            case _:
                self.deliver(item)

    def _deal(self, deal: DealReport) -> Any:
        """A deal as an order event: a close (whole or partial), or a pending order's fill.

        A new position is reported by the open-orders snapshot, which carries
        its SL and TP; an "in" deal only says that a known pending order filled.
        """
        account, order_id = self.account_id, deal.position_id
        order = self.book.orders.get(order_id)
        if deal.entry == "out" and self._reported(order_id, deal.volume):
            return None  # the snapshot told this partial close already
        if deal.entry == "out":
            if order is not None and deal.volume < order.volume - _VOLUME_EPSILON:
                remaining = round(order.volume - deal.volume, 8)
                part = OrderPartiallyClosedData(
                    id=order_id,
                    volume=deal.volume,
                    remaining=remaining,
                    close_price=deal.price,
                    profit=deal.profit,
                )
                return OrderPartiallyClosed(account_id=account, data=part)
            data = OrderClosedData(id=order_id, close_price=deal.price, profit=deal.profit)
            return OrderClosed(account_id=account, data=data)
        if order is None or order.filled:
            return None
        return OrderFilled(account_id=account, data=OrderFilledData(id=order_id, price=deal.price))

    def _reported(self, order_id: str, volume: float) -> bool:
        volumes = self.reduced.get(order_id)
        if not volumes:
            return False
        for index, reported in enumerate(volumes):
            if abs(reported - volume) <= _VOLUME_EPSILON * max(1.0, volume) + 1e-9:
                del volumes[index]
                if not volumes:
                    del self.reduced[order_id]
                return True
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
        """A recovery snapshot was read; return ``True`` when another must start.

        A dialect that streams open-orders snapshots (the terminal's) sends one
        on every subscribe: its open orders come from the newest snapshot the
        socket sent, which is in order with the socket's deals, not from the
        REST read, which may be older or newer than any of them (a socket
        snapshot older than it would undo what it shows). Until the socket's
        snapshot arrives the recovery waits, ``SNAPSHOT_WAIT`` at most.
        """
        if self.phase is not Phase.RECOVERING:
            return False
        if not self.numbered and not self._held_snapshot():
            self.rest_snapshot, self.waiting_since = snapshot, None
            return False
        return self._settle(snapshot)

    def tick(self, now: float) -> bool:
        """A liveness tick: a recovery that waited long enough for the socket's snapshot
        settles for the REST one. ``True`` when another recovery must start."""
        if self.rest_snapshot is None:
            return False
        if self.waiting_since is None:
            self.waiting_since = now
            return False
        if now - self.waiting_since < SNAPSHOT_WAIT:
            return False
        return self._settle(self.rest_snapshot)

    def _held_snapshot(self) -> PositionsSnapshot | None:
        for item in reversed(self.held):
            if isinstance(item, PositionsSnapshot):
                return item
        return None

    def _settle(self, snapshot: Snapshot) -> bool:
        self.rest_snapshot = self.waiting_since = None
        live = self._held_snapshot()
        if live is not None:
            # The socket's newest snapshot is the truth of open orders; what it
            # supersedes is dropped, the deals stay in their order.
            last = max(i for i, item in enumerate(self.held) if item is live)
            self.held = [
                item
                for i, item in enumerate(self.held)
                if i > last or not isinstance(item, PositionsSnapshot)
            ]
            snapshot = Snapshot(
                positions=live.positions,
                pending=live.pending,
                history=snapshot.history,
                summary=snapshot.summary,
                status=snapshot.status,
            )
        book = self.book
        for event in reconcile(book, snapshot, self.held):
            if isinstance(event, OrderPartiallyClosed) and not self.numbered:
                self.reduced.setdefault(event.data.id, []).append(event.data.volume)
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
            self._take(event)
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
