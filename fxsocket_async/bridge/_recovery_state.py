"""What the bridge remembers across its own restarts, per account, in ``<prefix>_bridge``.

``state.<account>`` holds the order book as the bridge last *published* it
(open and pending orders, recently finished ids, figures, status, the history
watermark) and when it was saved. On start the bridge compares it with the
upstream's REST snapshot (``_core.recovery.reconcile``): what differs happened
while it was down and is published then, with the ids the live path would
have used, so an event published live just before a crash is de-duplicated
by JetStream rather than told twice.
"""

# No "from __future__ import annotations": msgspec resolves these Structs' annotations.
from datetime import UTC, datetime
from typing import Final

import msgspec

from .._core.codec import decode_reply as decode_body
from .._core.events import AccountStatusData, AccountUpdateData
from .._core.recovery import BookOrder, OrderBook

__all__ = ["BookState", "OrderState", "book_from_state", "decode_state", "state_from_book"]

#: Finished order ids kept in the saved state (the live book keeps more): a history
#: trade older than the watermark is never read again, so only recent ones matter.
SAVED_FINISHED: Final = 2000


class OrderState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    symbol: str
    type: str
    volume: float
    price: float
    sl: float | None
    tp: float | None
    filled: bool


class BookState(msgspec.Struct, frozen=True, kw_only=True):
    """``state.<account>``: the published book and when it was saved (UTC)."""

    account: str
    saved_at: datetime
    orders: dict[str, OrderState] = {}
    finished: list[str] = []
    figures: AccountUpdateData | None = None
    status: AccountStatusData | None = None
    watermark: datetime | None = None
    #: The bridge run that saved it.
    epoch: str = ""


def state_from_book(book: OrderBook, *, epoch: str, now: datetime | None = None) -> BookState:
    orders = {
        order_id: OrderState(
            symbol=o.symbol, type=o.type, volume=o.volume, price=o.price,
            sl=_finite(o.sl), tp=_finite(o.tp), filled=o.filled,
        )
        for order_id, o in book.orders.items()
    }  # fmt: skip
    finished = book.finished_ids(SAVED_FINISHED)
    return BookState(
        account=book.account_id,
        saved_at=now or datetime.now(UTC),
        orders=orders,
        finished=finished,
        figures=book.figures,
        status=book.status,
        watermark=book.watermark,
        epoch=epoch,
    )


def _finite(value: float | None) -> float | None:
    # The live book marks "modified, value unknown" with NaN, which JSON cannot hold.
    return None if value is None or value != value else value


def book_from_state(state: BookState) -> OrderBook:
    book = OrderBook(state.account)
    for order_id, o in state.orders.items():
        book.orders[order_id] = BookOrder(o.symbol, o.type, o.volume, o.price, o.sl, o.tp, o.filled)
    book.restore_finished(state.finished)
    book.figures = state.figures
    book.status = state.status
    book.watermark = state.watermark
    return book


def decode_state(body: bytes) -> BookState:
    """A saved state; raises ``ProtocolError`` when it does not decode."""
    return decode_body(body, BookState, what="bridge state")


def encode_state(state: BookState) -> bytes:
    return msgspec.json.encode(state)
