"""``OrderBook`` and ``reconcile`` fed with literal events and REST snapshots (no I/O).

``OrderBook.apply`` is the one rule that keeps every events consumer free of
duplicates: an event that tells the book nothing new returns ``False`` and is
not delivered. ``reconcile`` turns "what consumers were told" plus "what REST
says now" into the order events that must have happened meanwhile, flagged
``recovered`` with no ``seq``, ordered opened -> changed (filled, modified) ->
finished (closed, cancelled) -> account figures -> status.

Every snapshot here is written out by hand, as the server would answer it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fxsocket_async._core.recovery import OrderBook, Snapshot, reconcile
from fxsocket_async.types import (
    AccountStatusChanged,
    AccountStatusData,
    AccountSummary,
    AccountUpdate,
    AccountUpdateData,
    OrderCancelled,
    OrderCancelledData,
    OrderClosed,
    OrderClosedData,
    OrderFilled,
    OrderFilledData,
    OrderModified,
    OrderModifiedData,
    OrderOpened,
    OrderOpenedData,
    OrderReply,
    Position,
    Trade,
)

ACC = "acc_1"
T0 = datetime(2026, 4, 2, 14, 0, 0)


# ------------------------------------------------------------------ builders


def opened(
    order_id: str,
    kind: str = "BUY",
    price: float = 1.1,
    *,
    symbol: str = "EURUSD",
    volume: float = 0.1,
    sl: float | None = None,
    tp: float | None = None,
    seq: int | None = None,
    recovered: bool = False,
) -> OrderOpened:
    data = OrderOpenedData(
        id=order_id, symbol=symbol, type=kind, volume=volume, price=price, sl=sl, tp=tp
    )
    return OrderOpened(account_id=ACC, seq=seq, data=data, recovered=recovered)


def filled(order_id: str, price: float, *, recovered: bool = False) -> OrderFilled:
    data = OrderFilledData(id=order_id, price=price)
    return OrderFilled(account_id=ACC, data=data, recovered=recovered)


def modified(
    order_id: str,
    *,
    sl: float | None = None,
    tp: float | None = None,
    price: float | None = None,
    recovered: bool = False,
) -> OrderModified:
    data = OrderModifiedData(id=order_id, sl=sl, tp=tp, price=price)
    return OrderModified(account_id=ACC, data=data, recovered=recovered)


def closed(
    order_id: str, close_price: float, profit: float = 0.0, *, recovered: bool = False
) -> OrderClosed:
    data = OrderClosedData(id=order_id, close_price=close_price, profit=profit)
    return OrderClosed(account_id=ACC, data=data, recovered=recovered)


def cancelled(order_id: str, *, recovered: bool = False) -> OrderCancelled:
    return OrderCancelled(account_id=ACC, data=OrderCancelledData(id=order_id), recovered=recovered)


def figures(balance: float = 10_000.0, equity: float = 10_000.0) -> AccountUpdateData:
    return AccountUpdateData(
        balance=balance, equity=equity, margin=0.0, free_margin=equity, currency="USD"
    )


def account_update(data: AccountUpdateData, *, recovered: bool = False) -> AccountUpdate:
    return AccountUpdate(account_id=ACC, data=data, recovered=recovered)


def status_changed(status: str, error: str = "", *, recovered: bool = False) -> Any:
    data = AccountStatusData(status=status, error=error)
    return AccountStatusChanged(account_id=ACC, data=data, recovered=recovered)


def position(
    order_id: str,
    kind: str = "BUY",
    open_price: float = 1.1,
    *,
    symbol: str = "EURUSD",
    volume: float = 0.1,
    sl: float | None = None,
    tp: float | None = None,
) -> Position:
    return Position(
        id=order_id,
        symbol=symbol,
        type=kind,
        volume=volume,
        open_price=open_price,
        sl=sl,
        tp=tp,
        profit=1.5,
        opened_at=T0,
    )


def pending(
    order_id: str,
    kind: str = "BUY_LIMIT",
    price: float = 1.09,
    *,
    symbol: str = "EURUSD",
    volume: float = 0.1,
    sl: float | None = None,
    tp: float | None = None,
) -> OrderReply:
    return OrderReply(
        id=order_id,
        symbol=symbol,
        type=kind,
        volume=volume,
        price=price,
        status="pending",
        sl=sl,
        tp=tp,
    )


def trade(
    order_id: str,
    kind: str = "BUY",
    *,
    open_price: float = 1.1,
    close_price: float | None = 1.102,
    profit: float = 20.0,
    minutes: int = 1,
    status: str = "closed",
    symbol: str = "EURUSD",
    volume: float = 0.1,
) -> Trade:
    return Trade(
        id=order_id,
        symbol=symbol,
        type=kind,
        volume=volume,
        profit=profit,
        open_price=open_price,
        close_price=close_price,
        commission=-0.7,
        opened_at=T0,
        closed_at=T0 + timedelta(minutes=minutes),
        status=status,
    )


def snapshot(
    positions: list[Position] | None = None,
    orders: list[OrderReply] | None = None,
    history: list[Trade] | None = None,
    summary: AccountSummary | None = None,
    status: AccountStatusData | None = None,
) -> Snapshot:
    return Snapshot(
        positions=positions or [],
        pending=orders or [],
        history=history or [],
        summary=summary,
        status=status,
    )


def book_with(*events: Any) -> OrderBook:
    book = OrderBook(ACC)
    for event in events:
        assert book.apply(event)
    return book


# ------------------------------------------------------------- OrderBook.apply


def test_an_order_opened_twice_is_a_duplicate() -> None:
    book = OrderBook(ACC)
    assert book.apply(opened("o1", seq=1))
    assert not book.apply(opened("o1", seq=1))
    assert not book.apply(opened("o1", recovered=True))  # the same order, rebuilt from REST


def test_an_order_closed_twice_is_a_duplicate() -> None:
    book = book_with(opened("o1"))
    assert book.apply(closed("o1", 1.102, 20.0))
    assert not book.apply(closed("o1", 1.102, 20.0))
    assert not book.apply(closed("o1", 1.102, 20.0, recovered=True))
    # and a finished order does not come back to life
    assert not book.apply(opened("o1"))
    assert not book.apply(filled("o1", 1.1))
    assert not book.apply(modified("o1", sl=1.0))


def test_an_order_cancelled_twice_is_a_duplicate_and_a_cancelled_order_cannot_close() -> None:
    book = book_with(opened("p1", "BUY_LIMIT", 1.09))
    assert book.apply(cancelled("p1"))
    assert not book.apply(cancelled("p1"))
    assert not book.apply(closed("p1", 1.09))


def test_a_pending_order_filled_twice_is_a_duplicate() -> None:
    book = book_with(opened("p1", "BUY_LIMIT", 1.09))
    assert book.apply(filled("p1", 1.09))
    assert not book.apply(filled("p1", 1.09))
    assert not book.apply(filled("p1", 1.09, recovered=True))


def test_a_market_order_is_filled_from_the_start() -> None:
    book = book_with(opened("o1", "SELL", 1.1))
    assert not book.apply(filled("o1", 1.1))


def test_a_modify_with_the_same_values_is_a_duplicate_and_new_values_are_not() -> None:
    book = book_with(opened("o1", sl=1.05, tp=1.15))
    assert not book.apply(modified("o1", sl=1.05, tp=1.15, price=1.1))
    assert not book.apply(modified("o1", sl=1.05, tp=1.15))  # no price: keeps the known one
    assert book.apply(modified("o1", sl=1.06, tp=1.15, price=1.1))
    assert not book.apply(modified("o1", sl=1.06, tp=1.15, price=1.1))
    assert book.apply(modified("o1", sl=1.06, tp=None, price=1.1))  # the TP was removed
    assert book.apply(modified("o1", sl=1.05, tp=None, price=1.1))  # and back again


def test_a_pending_price_change_is_new_information() -> None:
    book = book_with(opened("p1", "BUY_LIMIT", 1.09))
    assert book.apply(modified("p1", price=1.08))
    assert not book.apply(modified("p1", price=1.08))


def test_events_of_orders_the_book_never_saw_are_delivered() -> None:
    # The book was seeded from REST; an order it does not know still gets its events.
    book = OrderBook(ACC)
    assert book.apply(filled("x1", 1.1))
    assert book.apply(modified("x1", sl=1.0))
    assert book.apply(closed("x1", 1.2))
    assert not book.apply(closed("x1", 1.2))


def test_a_repeated_status_is_a_duplicate_and_a_new_one_is_not() -> None:
    book = OrderBook(ACC)
    assert book.apply(status_changed("connecting"))
    assert book.apply(status_changed("connected"))
    assert not book.apply(status_changed("connected"))  # the watcher and the stream both report
    assert book.apply(status_changed("error", "terminal crashed"))
    assert not book.apply(status_changed("error", "terminal crashed"))
    assert book.apply(status_changed("error", "another reason"))
    assert book.apply(status_changed("connected"))


def test_repeated_account_figures_are_a_duplicate_and_new_ones_are_not() -> None:
    book = OrderBook(ACC)
    assert book.apply(account_update(figures()))
    assert not book.apply(account_update(figures()))
    assert not book.apply(account_update(figures(), recovered=True))
    assert book.apply(account_update(figures(equity=10_001.0)))
    assert book.apply(account_update(figures()))  # back to the earlier figures is news


def test_a_seeded_book_knows_positions_pending_orders_and_history() -> None:
    book = OrderBook(ACC)
    book.seed(
        snapshot(
            positions=[position("o1", sl=1.0)],
            orders=[pending("p1")],
            history=[trade("t1", minutes=5)],
        )
    )
    assert not book.apply(opened("o1", sl=1.0))
    assert not book.apply(opened("p1", "BUY_LIMIT", 1.09))
    assert not book.apply(opened("t1"))
    assert not book.apply(closed("t1", 1.102))
    assert not book.apply(filled("o1", 1.1))  # a seeded position is filled
    assert book.apply(filled("p1", 1.09))  # a seeded pending order is not
    assert book.watermark == T0 + timedelta(minutes=5)


# ------------------------------------------------------------------- reconcile


def test_a_position_opened_during_the_gap_is_recovered_as_opened() -> None:
    book = OrderBook(ACC)
    events = reconcile(book, snapshot(positions=[position("o1", "SELL", 1.2, sl=1.3, tp=1.1)]))
    assert events == [opened("o1", "SELL", 1.2, sl=1.3, tp=1.1, recovered=True)]


def test_a_pending_order_placed_during_the_gap_is_recovered_as_opened() -> None:
    book = OrderBook(ACC)
    events = reconcile(
        book, snapshot(orders=[pending("p1", "SELL_STOP", 1.05, symbol="GBPUSD", volume=0.3)])
    )
    assert events == [opened("p1", "SELL_STOP", 1.05, symbol="GBPUSD", volume=0.3, recovered=True)]


def test_a_known_pending_order_that_filled_is_recovered_as_filled() -> None:
    book = book_with(opened("p1", "BUY_LIMIT", 1.09))
    events = reconcile(book, snapshot(positions=[position("p1", "BUY", 1.09)]))
    assert events == [filled("p1", 1.09, recovered=True)]


def test_a_known_pending_order_cancelled_during_the_gap_is_recovered_as_cancelled() -> None:
    book = book_with(opened("p1", "BUY_LIMIT", 1.09))
    history = [trade("p1", "BUY_LIMIT", open_price=1.09, close_price=None, status="cancelled")]
    assert reconcile(book, snapshot(history=history)) == [cancelled("p1", recovered=True)]


def test_a_known_position_closed_during_the_gap_is_recovered_with_price_and_profit() -> None:
    book = book_with(opened("o1", "BUY", 1.1))
    history = [trade("o1", open_price=1.1, close_price=1.1037, profit=37.0)]
    assert reconcile(book, snapshot(history=history)) == [
        closed("o1", 1.1037, 37.0, recovered=True)
    ]


def test_a_known_pending_order_that_filled_and_closed_is_recovered_as_filled_then_closed() -> None:
    book = book_with(opened("p1", "SELL_LIMIT", 1.12))
    history = [trade("p1", "SELL", open_price=1.12, close_price=1.115, profit=50.0)]
    assert reconcile(book, snapshot(history=history)) == [
        filled("p1", 1.12, recovered=True),
        closed("p1", 1.115, 50.0, recovered=True),
    ]


def test_an_order_opened_and_closed_inside_the_gap_is_recovered_from_history_alone() -> None:
    book = OrderBook(ACC)
    history = [trade("o9", "SELL", open_price=1.1, close_price=1.098, profit=20.0)]
    assert reconcile(book, snapshot(history=history)) == [
        opened("o9", "SELL", 1.1, recovered=True),
        closed("o9", 1.098, 20.0, recovered=True),
    ]


def test_a_pending_order_placed_and_cancelled_inside_the_gap_is_recovered() -> None:
    book = OrderBook(ACC)
    history = [trade("p9", "BUY_STOP", open_price=1.2, close_price=None, status="cancelled")]
    assert reconcile(book, snapshot(history=history)) == [
        opened("p9", "BUY_STOP", 1.2, recovered=True),
        cancelled("p9", recovered=True),
    ]


def test_an_sl_or_tp_change_is_recovered_as_modified() -> None:
    book = book_with(opened("o1", "BUY", 1.1, sl=1.05, tp=1.15))
    events = reconcile(book, snapshot(positions=[position("o1", "BUY", 1.1, sl=1.07, tp=None)]))
    assert events == [modified("o1", sl=1.07, tp=None, price=1.1, recovered=True)]


def test_a_pending_price_change_is_recovered_as_modified() -> None:
    book = book_with(opened("p1", "BUY_LIMIT", 1.09, sl=1.0))
    events = reconcile(book, snapshot(orders=[pending("p1", "BUY_LIMIT", 1.085, sl=1.0)]))
    assert events == [modified("p1", sl=1.0, tp=None, price=1.085, recovered=True)]


def test_nothing_changed_gives_no_order_events() -> None:
    book = book_with(
        opened("o1", "BUY", 1.1, sl=1.05),
        opened("p1", "BUY_LIMIT", 1.09),
        opened("p2", "SELL_STOP", 1.05),
        filled("p2", 1.05),
        opened("o2"),
        closed("o2", 1.102, 20.0),
    )
    book.advance([trade("o2", minutes=2)])
    same = snapshot(
        positions=[position("o1", "BUY", 1.1, sl=1.05), position("p2", "SELL", 1.05)],
        orders=[pending("p1", "BUY_LIMIT", 1.09)],
        history=[trade("o2", minutes=2)],
    )
    assert reconcile(book, same) == []


def test_changed_account_figures_are_recovered_as_an_account_update() -> None:
    book = book_with(account_update(figures()))
    summary = AccountSummary(
        balance=10_020.0, equity=10_020.0, margin=0.0, free_margin=10_020.0, currency="USD"
    )
    assert reconcile(book, snapshot(summary=summary)) == [
        account_update(figures(10_020.0, 10_020.0), recovered=True)
    ]
    unchanged = AccountSummary(
        balance=10_000.0, equity=10_000.0, margin=0.0, free_margin=10_000.0, currency="USD"
    )
    assert reconcile(book, snapshot(summary=unchanged)) == []


def test_a_changed_status_is_recovered_and_an_unchanged_one_is_not() -> None:
    book = book_with(status_changed("connected"))
    assert reconcile(book, snapshot(status=AccountStatusData(status="connected"))) == []
    lost = AccountStatusData(status="error", error="terminal crashed")
    assert reconcile(book, snapshot(status=lost)) == [
        status_changed("error", "terminal crashed", recovered=True)
    ]


def test_history_entries_finished_before_are_ignored() -> None:
    # o1 closed live, o2 was already in history when the book was seeded, p1 was
    # cancelled live: history repeats all three (it is read from the watermark on).
    book = OrderBook(ACC)
    book.seed(snapshot(history=[trade("o2", minutes=1)]))
    for event in (opened("o1"), closed("o1", 1.102, 20.0), opened("p1", "BUY_LIMIT", 1.09)):
        assert book.apply(event)
    assert book.apply(cancelled("p1"))
    history = [
        trade("o2", minutes=1),
        trade("o1", minutes=2),
        trade("p1", "BUY_LIMIT", close_price=None, status="cancelled", minutes=3),
    ]
    assert reconcile(book, snapshot(history=history)) == []


def test_every_recovered_event_is_flagged_without_seq_in_opened_changed_finished_order() -> None:
    book = book_with(
        opened("keep", "BUY", 1.1, sl=1.0),  # SL moves
        opened("fill", "BUY_LIMIT", 1.09),  # fills
        opened("shut", "SELL", 1.1),  # closes
        opened("drop", "SELL_LIMIT", 1.2),  # is cancelled
        opened("fill_shut", "BUY_STOP", 1.11),  # fills and closes
        account_update(figures()),
        status_changed("connected"),
    )
    summary = AccountSummary(
        balance=10_050.0, equity=10_060.0, margin=0.0, free_margin=10_060.0, currency="USD"
    )
    snap = snapshot(
        positions=[
            position("keep", "BUY", 1.1, sl=1.02),
            position("fill", "BUY", 1.09),
            position("new_pos", "SELL", 1.1),
        ],
        orders=[pending("new_pending", "BUY_LIMIT", 1.08)],
        history=[
            trade("shut", "SELL", close_price=1.099, profit=10.0, minutes=1),
            trade("drop", "SELL_LIMIT", close_price=None, status="cancelled", minutes=2),
            trade("fill_shut", "BUY", open_price=1.11, close_price=1.112, profit=20.0, minutes=3),
            trade("inside", "BUY", open_price=1.1, close_price=1.101, profit=10.0, minutes=4),
        ],
        summary=summary,
        status=AccountStatusData(status="connected"),
    )
    events = reconcile(book, snap)

    assert all(e.recovered and e.seq is None for e in events)
    assert all(e.account_id == ACC for e in events)
    opened_part = [e for e in events if isinstance(e, OrderOpened)]
    changed_part = [e for e in events if isinstance(e, OrderFilled | OrderModified)]
    finished_part = [e for e in events if isinstance(e, OrderClosed | OrderCancelled)]
    assert events == [*opened_part, *changed_part, *finished_part, events[-1]]
    assert {e.data.id for e in opened_part} == {"new_pos", "new_pending", "inside"}
    assert {(type(e).__name__, e.data.id) for e in changed_part} == {
        ("OrderModified", "keep"),
        ("OrderFilled", "fill"),
        ("OrderFilled", "fill_shut"),
    }
    assert {(type(e).__name__, e.data.id) for e in finished_part} == {
        ("OrderClosed", "shut"),
        ("OrderCancelled", "drop"),
        ("OrderClosed", "fill_shut"),
        ("OrderClosed", "inside"),
    }
    assert events[-1] == account_update(
        AccountUpdateData(
            balance=10_050.0, equity=10_060.0, margin=0.0, free_margin=10_060.0, currency="USD"
        ),
        recovered=True,
    )
    # the fill of "fill_shut" comes before its close
    assert events.index(filled("fill_shut", 1.11, recovered=True)) < events.index(
        closed("fill_shut", 1.112, 20.0, recovered=True)
    )


def test_recovered_events_pass_the_book_once_and_a_second_reconcile_finds_nothing() -> None:
    # What the stream does with them: each is news to the book exactly once.
    book = book_with(opened("fill", "BUY_LIMIT", 1.09), opened("shut", "BUY", 1.1))
    snap = snapshot(
        positions=[position("fill", "BUY", 1.09), position("new_pos", "SELL", 1.1, sl=1.2)],
        orders=[pending("new_pending", "SELL_STOP", 1.05)],
        history=[
            trade("shut", close_price=1.101, profit=10.0, minutes=1),
            trade("inside", "SELL", close_price=1.099, profit=10.0, minutes=2),
        ],
    )
    events = reconcile(book, snap)
    assert len(events) == 6
    assert all(book.apply(e) for e in events)
    assert not any(book.apply(e) for e in events)
    book.advance(snap.history)
    assert reconcile(book, snap) == []
    assert book.watermark == T0 + timedelta(minutes=2)
