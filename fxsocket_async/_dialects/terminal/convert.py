"""The terminal's rows in the library's models: one order, one account, one trade.

Tickets are integers on this wire; the library's ids are strings, so a
ticket's id is its decimal text (``12345`` is ``"12345"``). A stop of ``0``
means none, as in MetaTrader.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..._core.market import ClosedPosition
from ..._core.models import AccountSummary, OrderReply, Position, Trade
from ..._exceptions import ValidationError
from .wire import TAccountSummary, TOpenedOrder, our_type

__all__ = ["order_id", "snapshot_of", "summary_of", "ticket", "trades_of"]


def ticket(order_id: str) -> int:
    """The terminal ticket behind an order id (its decimal text).

    Raises ``ValidationError`` for an id that is not one.
    """
    if not (isinstance(order_id, str) and order_id.isdigit()):
        raise ValidationError(
            f"order ids of a terminal account are its tickets, such as '12345', not {order_id!r}",
            code="invalid_order_id",
        )
    return int(order_id)


def order_id(ticket_number: int) -> str:
    return str(ticket_number)


def _stop(value: float) -> float | None:
    return value if value else None


def position_of(row: TOpenedOrder) -> Position:
    return Position(
        id=order_id(row.ticket),
        symbol=row.symbol,
        type=our_type(row.type),
        volume=row.lots,
        open_price=row.open_price,
        sl=_stop(row.stop_loss),
        tp=_stop(row.take_profit),
        profit=row.profit,
        swap=row.swap,
        comment=row.comment,
        opened_at=row.open_time,
    )


def pending_of(row: TOpenedOrder) -> OrderReply:
    return OrderReply(
        id=order_id(row.ticket),
        symbol=row.symbol,
        type=our_type(row.type),
        volume=row.lots,
        price=row.open_price,
        status="pending",
        sl=_stop(row.stop_loss),
        tp=_stop(row.take_profit),
        comment=row.comment,
    )


def snapshot_of(rows: Sequence[TOpenedOrder]) -> tuple[list[Position], list[OrderReply]]:
    """``/OpenedOrders`` (or a ``positions`` frame) as positions and pending orders."""
    positions = [position_of(r) for r in rows if r.kind.lower() != "pending"]
    pending = [pending_of(r) for r in rows if r.kind.lower() == "pending"]
    return positions, pending


def summary_of(summary: TAccountSummary, account_id: str) -> AccountSummary:
    return AccountSummary(
        id=account_id,
        balance=summary.balance,
        equity=summary.equity,
        margin=summary.margin,
        free_margin=summary.free_margin,
        currency=summary.currency,
    )


def trades_of(rows: Sequence[ClosedPosition]) -> list[Trade]:
    """``/PositionHistory`` rows as the library's closed trades, oldest close first."""
    trades = [
        Trade(
            id=order_id(row.position_id),
            symbol=row.symbol,
            type=our_type(row.type),
            volume=row.volume,
            profit=row.profit,
            open_price=row.open_price,
            close_price=row.close_price,
            commission=row.commission,
            swap=row.swap,
            opened_at=row.open_time,
            closed_at=row.close_time,
        )
        for row in rows
    ]
    trades.sort(key=_by_close)
    return trades


def _by_close(trade: Trade) -> tuple[bool, float, str]:
    closed = trade.closed_at
    return closed is None, closed.timestamp() if closed is not None else 0.0, trade.id
