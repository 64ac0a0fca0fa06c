"""The terminal dialect under ``StreamProtocol``: literal frames in, asserted actions out.

The frames are written as the vendor SDK (``fxsocket`` 0.8.0,
``terminal/stream.py``) reads them: ``{"action":"subscribe","topic":...}``
out; ``subscribed`` / ``error`` naming only the topic, ``tick``, ``bar``,
``positions``, ``trade``, ``account``, ``terminal`` and ``warning`` in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fxsocket_async import SubscriptionRefusedError
from fxsocket_async._core.actions import Recover, Resolve, SendPing
from fxsocket_async._core.dialect import Topic
from fxsocket_async._core.recovery import Snapshot
from fxsocket_async._core.stream import StreamProtocol
from fxsocket_async._dialects.terminal import TerminalStream
from fxsocket_async.types import (
    AccountUpdate,
    Bar,
    OrderCancelled,
    OrderClosed,
    OrderFilled,
    OrderModified,
    OrderOpened,
    OrderPartiallyClosed,
    OrderReply,
    PositionsSnapshot,
    StreamGap,
    TerminalStatus,
    UnknownEvent,
)

from .test_stream_protocol import EventSinkRecorder, QuoteSinkRecorder, sent

T0 = datetime(2026, 4, 2, 14, 0, tzinfo=UTC)
ACC = "acc_7"
EMPTY = Snapshot(positions=[], pending=[], history=[])


def opened() -> StreamProtocol:
    dialect = TerminalStream("wss://t.example.test/ws", "secret-key", ACC)
    p = StreamProtocol(
        dialect, ping_interval=10.0, dead_after=25.0, quote_silence=None, account_id=ACC
    )
    p.connection_made(T0, 0.0)
    assert p.take_actions() == []
    return p


def feed(p: StreamProtocol, *frames: str) -> list[Any]:
    p.receive_frames([f.encode() for f in frames], T0)
    return p.take_actions()


def row(ticket: int, lots: float, *, kind: str = "Position", sl: float = 0.0) -> str:
    kind_type = "Buy" if kind == "Position" else "BuyLimit"
    return (
        f'{{"ticket":{ticket},"symbol":"EURUSD","type":"{kind_type}","kind":"{kind}",'
        f'"lots":{lots},"openPrice":1.0834,"currentPrice":1.0840,"stopLoss":{sl},'
        '"takeProfit":0,"swap":0,"profit":6.0,"magic":0,"comment":"",'
        '"openTime":"2026-04-02T14:00:00.000Z"}'
    )


def pending_order(ticket: int) -> OrderReply:
    return OrderReply(
        id=str(ticket), symbol="EURUSD", type="BUY_LIMIT", volume=0.1, price=1.08, status="pending"
    )


def positions(*rows: str) -> str:
    return '{"type":"positions","data":[' + ",".join(rows) + "]}"


def deal(position: int, entry: str, volume: float, price: float, profit: float) -> str:
    return (
        f'{{"type":"trade","data":{{"deal":9{position},"order":{position},'
        f'"position":{position},"symbol":"EURUSD","type":"Sell","entry":"{entry}",'
        f'"volume":{volume},"price":{price},"profit":{profit},"commission":-0.5,"swap":0,'
        '"time":"2026-04-02T14:01:00.000Z"}}'
    )


def live_events(p: StreamProtocol, sink: EventSinkRecorder) -> None:
    ticket = p.add_events(ACC, sink)
    assert sent(p.take_actions()) == [
        b'{"action":"subscribe","topic":"trades"}',
        b'{"action":"subscribe","topic":"positions"}',
        b'{"action":"subscribe","topic":"account"}',
    ]
    assert feed(p, '{"type":"subscribed","topic":"trades"}') == []
    assert feed(p, '{"type":"subscribed","topic":"positions"}') == []
    assert feed(p, '{"type":"subscribed","topic":"account"}') == [Resolve(ticket)]  # type: ignore[arg-type]
    p.seeded(ACC, EMPTY)
    p.take_actions()


# --------------------------------------------------------------- subscribing


def test_quotes_subscribe_per_symbol_and_ticks_reach_the_socket_account() -> None:
    p = opened()
    sink = QuoteSinkRecorder()
    ticket = p.add_quotes(ACC, ["EURUSD", "GBPUSD"], sink)
    assert sent(p.take_actions()) == [
        b'{"action":"subscribe","topic":"prices","symbol":"EURUSD"}',
        b'{"action":"subscribe","topic":"prices","symbol":"GBPUSD"}',
    ]
    # Acks name the topic only: the first one answers the older request of that topic.
    assert feed(p, '{"type":"subscribed","topic":"prices","message":"EURUSD"}') == []
    assert feed(p, '{"type":"subscribed","topic":"prices","message":"GBPUSD"}') == [
        Resolve(ticket)  # type: ignore[arg-type]
    ]
    tick = (
        '{"type":"tick","symbol":"EURUSD","data":{"symbol":"EURUSD","bid":1.0831,'
        '"ask":1.0833,"time":"2026-04-02T14:00:01.250Z","last":0,"volume":0}}'
    )
    assert feed(p, tick, tick) == []
    assert [q.bid for q in sink.quotes] == [1.0831, 1.0831]
    assert sink.runs == [2]  # one run of one symbol: one push


def test_a_refused_topic_answers_the_oldest_request_of_that_topic() -> None:
    p = opened()
    first, second = QuoteSinkRecorder(), QuoteSinkRecorder()
    one = p.add_quotes(ACC, ["NOPE"], first)
    two = p.add_quotes(ACC, ["EURUSD"], second)
    p.take_actions()
    actions = feed(p, '{"type":"error","topic":"prices","message":"unknown symbol NOPE"}')
    assert len(actions) == 1
    assert isinstance(actions[0], Resolve)
    assert actions[0].ticket == one
    assert isinstance(actions[0].error, SubscriptionRefusedError)
    assert actions[0].error.message == "unknown symbol NOPE"
    assert feed(p, '{"type":"subscribed","topic":"prices"}') == [Resolve(two)]  # type: ignore[arg-type]


def test_bars_subscribe_with_the_terminals_timeframe_and_arrive_in_ours() -> None:
    p = opened()
    sink = EventSinkRecorder()
    ticket = p.add_topic(Topic(ACC, "bars", "EURUSD:MN"), sink)
    assert sent(p.take_actions()) == [
        b'{"action":"subscribe","topic":"bars","symbol":"EURUSD","timeframe":"MN1"}'
    ]
    assert feed(p, '{"type":"subscribed","topic":"bars"}') == [Resolve(ticket)]  # type: ignore[arg-type]
    bar = (
        '{"type":"bar","symbol":"EURUSD","timeframe":"MN1","data":{"time":'
        '"2026-04-01T00:00:00.000Z","open":1.08,"high":1.09,"low":1.07,"close":1.085,'
        '"tickVolume":1200,"realVolume":0,"spread":2}}'
    )
    assert feed(p, bar) == []
    (item,) = sink.items
    assert isinstance(item, Bar)
    assert (item.symbol, item.timeframe, item.account_id) == ("EURUSD", "MN", ACC)
    assert (item.candle.close, item.candle.volume) == (1.085, 1200)
    p.remove_topic(Topic(ACC, "bars", "EURUSD:MN"), sink)
    assert sent(p.take_actions()) == [
        b'{"action":"unsubscribe","topic":"bars","symbol":"EURUSD","timeframe":"MN1"}'
    ]


def test_terminal_status_and_a_slow_client_warning_are_counted_not_lost() -> None:
    p = opened()
    sink = EventSinkRecorder()
    p.add_topic(Topic(ACC, "terminal"), sink)
    p.take_actions()
    feed(p, '{"type":"subscribed","topic":"terminal"}')
    status = (
        '{"type":"terminal","data":{"connected":true,"tradeAllowed":false,'
        '"serverTime":"2026-04-02T17:00:00.000Z"}}'
    )
    assert feed(p, status, '{"type":"warning","dropped":42}') == []
    (item,) = sink.items
    assert isinstance(item, TerminalStatus)
    assert (item.connected, item.trade_allowed, item.account_id) == (True, False, ACC)
    assert p.counters.server_dropped == 42


def test_liveness_pings_with_websocket_frames_not_text() -> None:
    p = opened()
    p.tick(11.0, market_open=True)
    assert p.take_actions() == [SendPing()]


def test_an_unknown_frame_type_is_counted_and_reaches_who_wants_it() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink)
    feed(p, '{"type":"margin_call","data":{"level":50}}')
    (item,) = sink.items
    assert isinstance(item, UnknownEvent)
    assert item.type == "margin_call"
    assert p.counters.unknown_events == 1


def test_a_malformed_known_frame_is_counted_and_skipped() -> None:
    p = opened()
    assert feed(p, '{"type":"positions","data":"not a list"}') == []
    assert p.counters.decode_errors == 1


# ------------------------------------------------------------ order events


def test_snapshots_and_deals_become_the_librarys_order_events() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink)

    feed(p, positions(row(501, 1.0), row(502, 0.5, kind="Pending")))
    assert [type(e) for e in sink.items] == [OrderOpened, OrderOpened]
    assert {e.data.id for e in sink.items} == {"501", "502"}
    assert all(not e.recovered for e in sink.items)
    sink.items.clear()

    # A snapshot that repeats what is known says nothing.
    feed(p, positions(row(501, 1.0), row(502, 0.5, kind="Pending")))
    assert sink.items == []

    # A stop set, a pending order filled by its "in" deal.
    feed(p, positions(row(501, 1.0, sl=1.08), row(502, 0.5, kind="Pending")))
    feed(p, deal(502, "In", 0.5, 1.0830, 0.0))
    feed(p, positions(row(501, 1.0, sl=1.08), row(502, 0.5)))
    assert [type(e) for e in sink.items] == [OrderModified, OrderFilled]
    assert sink.items[1].data.price == 1.083
    sink.items.clear()

    # A partial close by its deal, then the snapshot that agrees: one event.
    feed(p, deal(501, "Out", 0.4, 1.0850, 16.5))
    feed(p, positions(row(501, 0.6, sl=1.08), row(502, 0.5)))
    (part,) = sink.items
    assert isinstance(part, OrderPartiallyClosed)
    assert (part.data.volume, part.data.remaining, part.data.profit) == (0.4, 0.6, 16.0)
    sink.items.clear()

    # The whole close: the snapshot leaves it to the deal, which carries price and profit.
    feed(p, positions(row(502, 0.5)))
    assert sink.items == []
    feed(p, deal(501, "Out", 0.6, 1.0852, 25.0))
    (closed,) = sink.items
    assert isinstance(closed, OrderClosed)
    assert (closed.data.id, closed.data.close_price, closed.data.profit) == ("501", 1.0852, 24.5)


def test_a_partial_close_seen_in_a_snapshot_first_is_not_taken_for_a_whole_close() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink)
    feed(p, positions(row(601, 1.0)))
    sink.items.clear()
    feed(p, positions(row(601, 0.5)))  # halved before its deal arrives
    feed(p, deal(601, "Out", 0.5, 1.0850, 8.0))
    (part,) = sink.items
    assert isinstance(part, OrderPartiallyClosed)
    assert (part.data.volume, part.data.remaining) == (0.5, 0.5)
    assert "601" in p.feeds[ACC].book.orders  # still open, at half the volume
    feed(p, deal(601, "Out", 0.5, 1.0860, 9.0))
    assert isinstance(sink.items[-1], OrderClosed)


def test_a_pending_order_that_vanishes_is_cancelled() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink)
    feed(p, positions(row(701, 0.2, kind="Pending")))
    feed(p, positions())
    assert [type(e) for e in sink.items] == [OrderOpened, OrderCancelled]


def test_positions_snapshots_also_reach_their_own_consumers() -> None:
    p = opened()
    snapshots = EventSinkRecorder()
    p.add_topic(Topic(ACC, "positions"), snapshots)
    p.take_actions()
    feed(p, '{"type":"subscribed","topic":"positions"}')
    feed(p, positions(row(801, 0.1)))
    (snapshot,) = snapshots.items
    assert isinstance(snapshot, PositionsSnapshot)
    assert [pos.id for pos in snapshot.positions] == ["801"]
    assert snapshot.pending == []


def test_account_frames_become_account_updates() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink)
    feed(
        p,
        '{"type":"account","data":{"balance":10000,"equity":10012.5,"margin":100,'
        '"freeMargin":9912.5,"currency":"USD","leverage":100}}',
    )
    (update,) = sink.items
    assert isinstance(update, AccountUpdate)
    assert (update.data.equity, update.data.free_margin) == (10012.5, 9912.5)


def test_the_api_key_is_in_the_url_but_never_in_what_is_shown() -> None:
    dialect = TerminalStream("wss://t.example.test/ws?region=eu", "secret-key", ACC)
    endpoint = dialect.endpoint(ACC)
    assert "api_key=secret-key" in endpoint.url
    assert "region=eu" in endpoint.url
    assert "secret-key" not in endpoint.shown
    assert "secret-key" not in repr(dialect)


# ---------------------------------------------------------------- reconnects


def reconnect(p: StreamProtocol) -> list[Any]:
    """Drop and remake the connection, acknowledge the replayed subscribes."""
    p.connection_lost(T0)
    p.connection_made(T0, 100.0)
    actions = p.take_actions()
    for topic in ("trades", "positions", "account"):
        feed(p, f'{{"type":"subscribed","topic":"{topic}"}}')
    return actions


def test_a_recovery_takes_open_orders_from_the_sockets_snapshot_not_an_older_one() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink)
    feed(p, positions(row(701, 0.2, kind="Pending")))
    sink.items.clear()

    actions = reconnect(p)
    assert any(isinstance(a, Recover) for a in actions)
    # The socket's snapshot on subscribe: 701 was deleted during the gap.
    feed(p, positions())
    # The REST read, made a moment later, already shows an order placed since.
    rest = Snapshot(positions=[], pending=[pending_order(702)], history=[])
    p.recovered(ACC, rest)
    kinds = [(type(e).__name__, getattr(e, "data", None) and e.data.id) for e in sink.items]
    # 701's deletion is recovered; 702 is left to the socket, which tells it next, live.
    assert kinds == [("StreamGap", None), ("OrderCancelled", "701")]
    assert sink.items[1].recovered
    feed(p, positions(row(702, 0.1, kind="Pending")))
    assert isinstance(sink.items[-1], OrderOpened)
    assert (sink.items[-1].data.id, sink.items[-1].recovered) == ("702", False)


def test_a_recovery_waits_for_the_sockets_snapshot_then_settles_for_rest() -> None:
    p = opened()
    sink = EventSinkRecorder()
    live_events(p, sink)
    feed(p, positions(row(801, 0.2, kind="Pending")))
    sink.items.clear()
    reconnect(p)
    p.recovered(ACC, Snapshot(positions=[], pending=[], history=[]))
    assert [type(e) for e in sink.items] == [StreamGap]  # no snapshot from the socket yet
    p.tick(100.5, market_open=True)
    p.tick(101.0, market_open=True)
    assert [type(e) for e in sink.items] == [StreamGap]
    p.tick(101.6, market_open=True)  # a second later: REST it is
    assert [type(e) for e in sink.items] == [StreamGap, OrderCancelled]
