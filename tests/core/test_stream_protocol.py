"""``StreamProtocol`` as websockets tests its own: literal frames in, asserted actions out.

No sockets, no clock, no sleeps: times are passed in, sinks record what they
received, and every frame is written out as the wire carries it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fxsocket_async import SubscriptionRefusedError
from fxsocket_async._core.actions import Close, Recover, Resolve, Send
from fxsocket_async._core.feeds import Phase
from fxsocket_async._core.recovery import Snapshot
from fxsocket_async._core.stream import LinkState, StreamProtocol
from fxsocket_async._dialects.reference import ReferenceStream
from fxsocket_async._exceptions import AuthenticationError, FxSocketError
from fxsocket_async.types import (
    AccountStatusChanged,
    AccountStatusData,
    OrderClosed,
    OrderOpened,
    Position,
    Quote,
    StreamGap,
    Trade,
    UnknownEvent,
)

T0 = datetime(2026, 4, 2, 14, 0, tzinfo=UTC)
ACC = "acc_1"


class QuoteSinkRecorder:
    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self.dropped = 0
        self.conflated = 0
        self.quotes: list[Quote] = []
        self.runs: list[int] = []
        self.errors: list[FxSocketError] = []

    def push_many(self, quotes: list[Quote]) -> None:
        self.quotes.extend(quotes)
        self.runs.append(len(quotes))

    def fail(self, error: FxSocketError) -> None:
        self.errors.append(error)

    def close(self) -> None:
        pass


class EventSinkRecorder:
    def __init__(self, include_unknown: bool = True) -> None:
        self.include_unknown = include_unknown
        self.dropped = 0
        self.items: list[Any] = []
        self.errors: list[FxSocketError] = []

    def push(self, item: Any) -> None:
        self.items.append(item)

    def fail(self, error: FxSocketError) -> None:
        self.errors.append(error)

    def close(self) -> None:
        pass


def protocol(**kw: Any) -> StreamProtocol:
    options: dict[str, Any] = {"ping_interval": 10.0, "dead_after": 25.0, "quote_silence": 30.0}
    options.update(kw)
    return StreamProtocol(ReferenceStream("wss://example.test/v1/stream", "k"), **options)


def opened(**kw: Any) -> StreamProtocol:
    p = protocol(**kw)
    p.connection_made(T0, 0.0)
    assert p.take_actions() == []
    return p


def sent(actions: list[Any]) -> list[bytes]:
    return [a.frame for a in actions if isinstance(a, Send)]


def feed(p: StreamProtocol, *frames: str, at: datetime = T0) -> list[Any]:
    p.receive_frames([f.encode() for f in frames], at)
    return p.take_actions()


def quote_frame(symbol: str, bid: float, account: str = ACC) -> str:
    return (
        f'{{"type":"quote","account_id":"{account}","data":{{"symbol":"{symbol}",'
        f'"bid":{bid},"ask":{bid + 0.0002:.5f},"time":"2026-04-02T14:00:00.000Z"}}}}'
    )


def opened_frame(seq: int, order: str = "ord_1", account: str = ACC) -> str:
    return (
        f'{{"type":"order_opened","account_id":"{account}","seq":{seq},"data":{{"id":"{order}",'
        '"symbol":"EURUSD","type":"BUY","volume":0.1,"price":1.0834}}'
    )


def closed_frame(seq: int, order: str = "ord_1") -> str:
    return (
        f'{{"type":"order_closed","account_id":"{ACC}","seq":{seq},"data":{{"id":"{order}",'
        '"close_price":1.085,"profit":15.9}}'
    )


EMPTY = Snapshot(positions=[], pending=[], history=[])


def live_events(p: StreamProtocol, sink: EventSinkRecorder, *, last_seq: int = 5) -> None:
    """Subscribe ``sink`` to ACC's events, acknowledge, seed, and anchor at ``last_seq``."""
    ticket = p.add_events(ACC, sink)
    assert sent(p.take_actions()) == [
        b'{"action":"subscribe","id":1,"channel":"orders","account_id":"acc_1"}',
        b'{"action":"subscribe","id":2,"channel":"account","account_id":"acc_1"}',
    ]
    assert feed(p, '{"type":"subscribed","id":1,"channel":"orders","account_id":"acc_1"}') == []
    assert feed(p, '{"type":"subscribed","id":2,"channel":"account","account_id":"acc_1"}') == [
        Resolve(ticket)  # type: ignore[arg-type]
    ]
    p.seeded(ACC, EMPTY)
    assert p.feeds[ACC].phase is Phase.UNANCHORED  # no numbered event yet
    # The first numbered event of an unanchored feed is checked quietly through REST.
    actions = feed(p, opened_frame(last_seq, order="ord_0"))
    assert actions == [Recover(ACC, None)]
    p.recovered(ACC, Snapshot(positions=[], pending=[], history=[]))
    assert p.feeds[ACC].phase is Phase.LIVE
    assert [type(i) for i in sink.items] == [OrderOpened]
    sink.items.clear()


# ------------------------------------------------------------------ subscribing


def test_a_subscribe_goes_out_at_once_and_its_ack_resolves_the_ticket() -> None:
    p = opened()
    sink = QuoteSinkRecorder()
    ticket = p.add_quotes(ACC, ["EURUSD", "GBPUSD"], sink)
    assert ticket is not None
    assert sent(p.take_actions()) == [
        b'{"action":"subscribe","id":1,"channel":"quotes","account_id":"acc_1",'
        b'"symbols":["EURUSD","GBPUSD"]}'
    ]
    ack = (
        '{"type":"subscribed","id":1,"channel":"quotes","account_id":"acc_1",'
        '"symbols":["EURUSD","GBPUSD"]}'
    )
    assert feed(p, ack) == [Resolve(ticket)]
    # An ack that answers nothing (a repeat, an unsubscribe's) settles nothing.
    assert feed(p, ack) == []


def test_a_subscribe_made_offline_goes_out_when_the_connection_is_made() -> None:
    p = protocol()
    ticket = p.add_quotes(ACC, ["EURUSD"], QuoteSinkRecorder())
    assert p.take_actions() == []
    p.connection_made(T0, 0.0)
    assert sent(p.take_actions()) == [
        b'{"action":"subscribe","id":1,"channel":"quotes","account_id":"acc_1",'
        b'"symbols":["EURUSD"]}'
    ]
    assert feed(p, '{"type":"subscribed","id":1}') == [Resolve(ticket)]  # type: ignore[arg-type]


def test_a_refused_subscribe_answers_its_waiter_with_the_servers_code() -> None:
    p = opened()
    ticket = p.add_quotes(ACC, ["NOPE"], QuoteSinkRecorder())
    p.take_actions()
    actions = feed(
        p, '{"type":"error","id":1,"error":"invalid_symbol","message":"unknown symbols: NOPE"}'
    )
    assert len(actions) == 1
    resolve = actions[0]
    assert isinstance(resolve, Resolve)
    assert resolve.ticket == ticket
    assert isinstance(resolve.error, SubscriptionRefusedError)
    assert (resolve.error.code, resolve.error.message) == (
        "invalid_symbol",
        "unknown symbols: NOPE",
    )


def test_consumers_of_one_symbol_share_one_server_subscription() -> None:
    p = opened()
    first, second, third = QuoteSinkRecorder(), QuoteSinkRecorder(), QuoteSinkRecorder()
    one = p.add_quotes(ACC, ["EURUSD"], first)
    assert len(sent(p.take_actions())) == 1
    # The second joins the request in flight: no new subscribe, and it waits on the same ack.
    two = p.add_quotes(ACC, ["EURUSD"], second)
    assert two is not None
    assert two != one
    assert p.take_actions() == []
    assert feed(p, '{"type":"subscribed","id":1}') == [Resolve(one), Resolve(two)]  # type: ignore[arg-type]
    # Once acknowledged, a third has nothing to wait for.
    assert p.add_quotes(ACC, ["EURUSD"], third) is None
    assert p.take_actions() == []
    # Leaving: nothing is sent until the last consumer goes.
    p.remove_quotes(ACC, ["EURUSD"], first)
    p.remove_quotes(ACC, ["EURUSD"], second)
    assert p.take_actions() == []
    p.remove_quotes(ACC, ["EURUSD"], third)
    assert sent(p.take_actions()) == [
        b'{"action":"unsubscribe","id":2,"channel":"quotes","account_id":"acc_1",'
        b'"symbols":["EURUSD"]}'
    ]
    assert p.quotes.by_account == {}


def test_a_consumer_that_adds_one_new_symbol_subscribes_only_that_one() -> None:
    p = opened()
    p.add_quotes(ACC, ["EURUSD"], QuoteSinkRecorder())
    p.take_actions()
    feed(p, '{"type":"subscribed","id":1}')
    p.add_quotes(ACC, ["EURUSD", "XAUUSD"], QuoteSinkRecorder())
    assert sent(p.take_actions()) == [
        b'{"action":"subscribe","id":2,"channel":"quotes","account_id":"acc_1",'
        b'"symbols":["XAUUSD"]}'
    ]


def test_removing_while_offline_sends_nothing_and_is_not_replayed() -> None:
    p = opened()
    sink = QuoteSinkRecorder()
    p.add_quotes(ACC, ["EURUSD"], sink)
    p.take_actions()
    feed(p, '{"type":"subscribed","id":1}')
    p.connection_lost(T0)
    p.remove_quotes(ACC, ["EURUSD"], sink)
    assert p.take_actions() == []
    p.connection_made(T0 + timedelta(seconds=1), 1.0)
    assert p.take_actions() == []


# --------------------------------------------------------------------- delivery


def test_quotes_reach_the_consumers_of_their_account_and_symbol_in_runs() -> None:
    p = opened()
    eur, gbp = QuoteSinkRecorder(), QuoteSinkRecorder()
    p.add_quotes(ACC, ["EURUSD"], eur)
    p.add_quotes(ACC, ["GBPUSD"], gbp)
    feed(
        p,
        quote_frame("EURUSD", 1.08340),
        quote_frame("EURUSD", 1.08341),
        quote_frame("GBPUSD", 1.26000),
        quote_frame("EURUSD", 1.08342, account="acc_other"),  # another account's
        quote_frame("USDJPY", 151.0),  # nobody's
        quote_frame("EURUSD", 1.08343),
    )
    assert [q.bid for q in eur.quotes] == [1.08340, 1.08341, 1.08343]
    assert eur.runs == [2, 1]  # one push per run of one symbol
    assert [q.bid for q in gbp.quotes] == [1.26]
    assert p.counters.frames == 6
    assert p.counters.quote_frames == 6


def test_quotes_and_other_frames_of_one_batch_are_handed_on_in_their_order() -> None:
    p = opened()
    log: list[Any] = []
    quotes, events = QuoteSinkRecorder(), EventSinkRecorder()
    live_events(p, events, last_seq=5)
    p.add_quotes(ACC, ["EURUSD"], quotes)
    p.take_actions()
    quotes.push_many = lambda run: log.append([q.bid for q in run])  # type: ignore[method-assign]
    events.push = lambda event: log.append(event.seq)  # type: ignore[method-assign]
    frames = [
        quote_frame("EURUSD", 1.1),
        quote_frame("EURUSD", 1.2),
        opened_frame(6),  # the first frame that is not a quote: a batch's quotes-only
        quote_frame("EURUSD", 1.3),  # decoding stops here and goes on frame by frame
        "not json",
        quote_frame("EURUSD", 1.4),
        closed_frame(7),
    ]
    before = p.counters.frames
    feed(p, *frames)
    assert log == [[1.1, 1.2], 6, [1.3, 1.4], 7]
    assert p.counters.frames - before == 7
    assert p.counters.quote_frames == 4
    assert p.counters.decode_errors == 1


@pytest.mark.parametrize("kind", [bytes, str])
def test_the_bytes_counted_are_the_frames_lengths(kind: type) -> None:
    p = opened()
    frames = [quote_frame("EURUSD", 1.1), quote_frame("GBPUSD", 1.2), '{"type":"pong"}']
    batch: list[Any] = [f.encode() if kind is bytes else f for f in frames]
    p.receive_frames(batch, T0)
    assert p.counters.bytes == sum(len(f) for f in frames)
    p.receive_frames([frames[0], frames[1].encode()], T0)  # mixed: counted one by one
    assert p.counters.bytes == 2 * sum(len(f) for f in frames) - len(frames[2])
    p.receive_frames([frames[0].encode()], T0, size=1000)  # the reader counted them
    assert p.counters.bytes == 2 * sum(len(f) for f in frames) - len(frames[2]) + 1000


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"no_type": 1}',
        '{"type":"quote","account_id":"acc_1"}',  # a known type missing its data
        "[" * 1200 + "]" * 1200,  # too deep for any decoder
        '{"a":' * 1200 + "1" + "}" * 1200,
    ],
)
def test_an_undecodable_frame_is_counted_and_skipped(frame: str) -> None:
    p = opened()
    sink = QuoteSinkRecorder()
    p.add_quotes(ACC, ["EURUSD"], sink)
    feed(p, quote_frame("EURUSD", 1.1), frame, quote_frame("EURUSD", 1.2))
    assert [q.bid for q in sink.quotes] == [1.1, 1.2]
    assert p.counters.decode_errors == 1


def test_an_unknown_type_reaches_the_events_consumers_that_want_it() -> None:
    p = opened()
    wants, does_not = EventSinkRecorder(), EventSinkRecorder(include_unknown=False)
    p.add_events(ACC, wants)
    p.add_events(ACC, does_not)
    feed(p, '{"type":"margin_call","account_id":"acc_1","level":50}')
    assert wants.items == [
        UnknownEvent(
            type="margin_call", raw={"type": "margin_call", "account_id": ACC, "level": 50}
        )
    ]
    assert does_not.items == []
    assert p.counters.unknown_events == 1


# ------------------------------------------------------------ replay, refusals


def test_a_reconnect_replays_every_live_subscription_and_announces_a_gap() -> None:
    p = opened()
    quotes, events = QuoteSinkRecorder(), EventSinkRecorder()
    p.add_quotes(ACC, ["GBPUSD", "EURUSD"], quotes)
    p.take_actions()
    feed(p, '{"type":"subscribed","id":1}')
    p.add_events(ACC, events)
    p.take_actions()
    feed(p, '{"type":"subscribed","id":2}', '{"type":"subscribed","id":3}')
    p.seeded(ACC, EMPTY)
    lost, back = T0 + timedelta(seconds=5), T0 + timedelta(seconds=7)
    p.connection_lost(lost)
    assert p.state is LinkState.DOWN
    p.connection_made(back, 7.0)
    actions = p.take_actions()
    assert sent(actions) == [
        b'{"action":"subscribe","id":4,"channel":"quotes","account_id":"acc_1",'
        b'"symbols":["EURUSD","GBPUSD"]}',
        b'{"action":"subscribe","id":5,"channel":"orders","account_id":"acc_1"}',
        b'{"action":"subscribe","id":6,"channel":"account","account_id":"acc_1"}',
    ]
    assert Recover(ACC, None) in actions
    assert events.items == [
        StreamGap(accounts=(ACC,), started_at=lost, ended_at=back, duration=2.0, reason="reconnect")
    ]
    assert p.counters.reconnects == 1
    # Replays are acknowledged like anything else, with nobody waiting on them.
    assert feed(p, *[f'{{"type":"subscribed","id":{i}}}' for i in (4, 5, 6)]) == []


def test_a_request_in_flight_when_the_connection_drops_is_sent_again() -> None:
    p = opened()
    ticket = p.add_quotes(ACC, ["EURUSD"], QuoteSinkRecorder())
    p.take_actions()
    p.connection_lost(T0)
    # The old connection's ack can no longer come; the new one answers the re-sent request.
    p.connection_made(T0, 1.0)
    assert sent(p.take_actions()) == [
        b'{"action":"subscribe","id":2,"channel":"quotes","account_id":"acc_1",'
        b'"symbols":["EURUSD"]}'
    ]
    assert feed(p, '{"type":"subscribed","id":1}') == []
    assert feed(p, '{"type":"subscribed","id":2}') == [Resolve(ticket)]  # type: ignore[arg-type]


def test_a_refused_replay_ends_exactly_its_consumers() -> None:
    p = opened()
    eur, gbp_other = QuoteSinkRecorder(), QuoteSinkRecorder()
    p.add_quotes(ACC, ["EURUSD"], eur)
    p.add_quotes("acc_2", ["GBPUSD"], gbp_other)
    p.take_actions()
    feed(p, '{"type":"subscribed","id":1}', '{"type":"subscribed","id":2}')
    p.connection_lost(T0)
    p.connection_made(T0, 1.0)
    replays = sent(p.take_actions())
    assert len(replays) == 2  # one message per account
    # The first account was unlinked meanwhile: its replay is refused.
    feed(p, '{"type":"error","id":3,"error":"not_found","message":"no account \'acc_1\'"}')
    assert len(eur.errors) == 1
    error = eur.errors[0]
    assert isinstance(error, SubscriptionRefusedError)
    assert error.code == "not_found"
    assert "after reconnecting" in error.message
    assert "acc_1" in error.message
    assert gbp_other.errors == []
    assert ACC not in p.quotes.by_account
    assert "acc_2" in p.quotes.by_account
    # Nothing is left to replay for it next time.
    p.connection_lost(T0)
    p.connection_made(T0, 2.0)
    assert sent(p.take_actions()) == [
        b'{"action":"subscribe","id":5,"channel":"quotes","account_id":"acc_2",'
        b'"symbols":["GBPUSD"]}'
    ]


def test_a_refused_events_replay_ends_that_accounts_events_consumers() -> None:
    p = opened()
    sink = EventSinkRecorder()
    p.add_events(ACC, sink)
    p.take_actions()
    feed(p, '{"type":"subscribed","id":1}', '{"type":"subscribed","id":2}')
    p.seeded(ACC, EMPTY)
    p.connection_lost(T0)
    p.connection_made(T0, 1.0)
    p.take_actions()
    feed(p, '{"type":"error","id":3,"error":"not_found","message":"gone"}')
    assert [type(e) for e in sink.errors] == [SubscriptionRefusedError]
    assert ACC not in p.feeds


def test_a_fatal_error_answers_every_waiter_and_ends_every_consumer() -> None:
    p = protocol()
    quotes, events = QuoteSinkRecorder(), EventSinkRecorder()
    one = p.add_quotes(ACC, ["EURUSD"], quotes)
    two = p.add_events(ACC, events)
    error = AuthenticationError("refused", status=401, code="unauthorized")
    p.failed(error)
    assert p.take_actions() == [Resolve(one, error), Resolve(two, error)]  # type: ignore[arg-type]
    assert quotes.errors == [error]
    assert events.errors == [error]
    assert p.state is LinkState.FAILED


# ------------------------------------------------------------------- seq, gaps


def test_events_held_while_seeding_are_delivered_after_the_seed() -> None:
    p = opened()
    sink = EventSinkRecorder()
    p.add_events(ACC, sink)
    p.take_actions()
    feed(p, '{"type":"subscribed","id":1}', '{"type":"subscribed","id":2}')
    feed(p, opened_frame(1))
    assert sink.items == []  # held until the seed is read
    p.seeded(ACC, EMPTY)
    assert [e.seq for e in sink.items] == [1]
    assert p.feeds[ACC].phase is Phase.LIVE  # anchored by the held numbered event


def test_a_duplicate_seq_is_dropped() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink, last_seq=5)
    feed(p, opened_frame(6), opened_frame(6), closed_frame(7), closed_frame(7))
    assert [(type(e), e.seq) for e in sink.items] == [(OrderOpened, 6), (OrderClosed, 7)]


def test_a_seq_jump_holds_events_and_recovers_announcing_only_what_it_finds() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink, last_seq=5)
    actions = feed(p, closed_frame(8, order="ord_2"))  # 6 and 7 never came
    assert actions == [Recover(ACC, None)]
    assert sink.items == []  # held, and no gap announced yet
    found = Snapshot(
        positions=[Position(id="ord_9", symbol="EURUSD", type="BUY", volume=0.1, open_price=1.08)],
        pending=[],
        history=[Trade(id="ord_2", symbol="EURUSD", type="BUY", volume=0.1, close_price=1.085)],
    )
    p.recovered(ACC, found)
    kinds = [(type(e).__name__, getattr(e, "recovered", None)) for e in sink.items]
    assert kinds[0] == ("StreamGap", None)
    assert sink.items[0].reason == "seq_jump"
    assert ("OrderOpened", True) in kinds  # ord_9, recovered
    assert kinds[-1] == ("OrderClosed", False)  # the held live close of ord_2 comes last...
    opened_ord_2 = [e for e in sink.items if isinstance(e, OrderOpened) and e.data.id == "ord_2"]
    assert len(opened_ord_2) == 1
    assert opened_ord_2[0].recovered


def test_a_seq_jump_that_hid_nothing_announces_nothing() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink, last_seq=5)
    feed(p, opened_frame(9, order="ord_9"))
    p.recovered(ACC, EMPTY)
    assert [(type(e), e.seq) for e in sink.items] == [(OrderOpened, 9)]
    assert p.counters.gaps == 0


def test_a_seq_that_goes_backwards_on_a_new_connection_is_a_restart() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink, last_seq=50)
    p.connection_lost(T0)
    p.connection_made(T0 + timedelta(seconds=1), 1.0)
    p.take_actions()
    p.recovered(ACC, EMPTY)  # the reconnect's recovery: nothing missed, nothing held
    sink.items.clear()
    assert p.feeds[ACC].phase is Phase.UNANCHORED
    # The server restarted and numbers from 1 again: announced, and checked through REST.
    later = T0 + timedelta(seconds=2)
    actions = feed(p, opened_frame(1, order="ord_new"), at=later)
    assert actions == [Recover(ACC, None)]
    assert sink.items == [
        StreamGap(accounts=(ACC,), started_at=later, ended_at=later, duration=0.0, reason="restart")
    ]
    p.recovered(ACC, EMPTY)
    feed(p, closed_frame(2, order="ord_new"), opened_frame(3, order="ord_x"))
    assert [(type(e).__name__, e.seq) for e in sink.items[1:]] == [
        ("OrderOpened", 1),
        ("OrderClosed", 2),
        ("OrderOpened", 3),
    ]


def test_a_status_change_from_the_watcher_joins_the_feed_once() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink)
    change = AccountStatusChanged(account_id=ACC, data=AccountStatusData(status="error", error="x"))
    p.status_changed(change)
    feed(
        p,
        '{"type":"account_status","account_id":"acc_1","seq":6,'
        '"data":{"status":"error","error":"x"}}',
    )
    assert sink.items == [change]  # the stream's copy says nothing new


# --------------------------------------------------------------------- liveness


def test_pings_go_out_every_ping_interval() -> None:
    p = opened(ping_interval=10.0)
    p.tick(5.0, market_open=True)
    assert p.take_actions() == []
    p.tick(10.0, market_open=True)
    assert sent(p.take_actions()) == [b'{"action":"ping","id":1}']
    assert feed(p, '{"type":"pong","id":1}') == []


def test_no_frame_for_dead_after_seconds_closes_the_connection() -> None:
    p = opened(ping_interval=100.0, dead_after=25.0)
    p.tick(20.0, market_open=True)
    feed(p, '{"type":"pong","id":9}')  # any frame counts, as of the tick that sees it
    p.tick(40.0, market_open=True)
    p.tick(65.0, market_open=True)
    assert p.take_actions() == []
    p.tick(66.0, market_open=True)
    assert p.take_actions() == [Close("no frame for 26 s")]


def test_silent_quotes_close_the_connection_only_while_the_market_is_open() -> None:
    p = opened(ping_interval=5.0, dead_after=100.0, quote_silence=30.0)
    p.add_quotes(ACC, ["EURUSD"], QuoteSinkRecorder())
    p.take_actions()
    for now in (10.0, 20.0, 31.0):
        feed(p, '{"type":"pong","id":1}')  # pongs keep the socket alive, not the quotes
        p.tick(now, market_open=False)
    assert not any(isinstance(a, Close) for a in p.take_actions())
    p.tick(32.0, market_open=True)
    assert p.take_actions() == [Close("no quote for 32 s while the market is open")]


def test_quote_silence_means_nothing_without_quote_consumers() -> None:
    p = opened(ping_interval=5.0, dead_after=100.0, quote_silence=30.0)
    for now in (10.0, 20.0, 40.0, 60.0):
        feed(p, '{"type":"pong","id":1}')
        p.tick(now, market_open=True)
    assert not any(isinstance(a, Close) for a in p.take_actions())
