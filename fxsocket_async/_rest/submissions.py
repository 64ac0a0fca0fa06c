"""Finding the order a submission placed, by the marker it carried as its comment.

The terminal dialect's order route takes no idempotency key, so an order sent
without a ``comment`` carries a marker (``fxsa-`` and 16 hex digits of the
key's hash). After an ambiguous failure (``Orders.create``), or a bridge
restart in the middle of a submission, the order is looked for by that marker
instead of being sent again: among open positions and pending orders, and
then among the account's recent deals, where a position that was filled and
has already closed (a stop, a take-profit, a hand on the terminal) is the
only trace left.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from .._core.models import CreateOrderRequest, OrderReply
from .resource import Resource

__all__ = ["MARKER_MEMORY", "find_submission", "submission_marker"]

#: How far back the deals are searched for a marker: longer than any window in which
#: a submission is looked up again (the bridge keeps a submission 24 h by default).
MARKER_MEMORY: Final = timedelta(days=2)


async def submission_marker(
    resource: Resource, request: CreateOrderRequest, idempotency_key: str
) -> tuple[str, str | None]:
    """The account's dialect name, and the marker this submission carries (``None``:
    the dialect takes the key itself, or the caller's ``comment`` took the place).

    Raises what deciding the account's dialect raises (``FxSocketError`` subclasses).
    """
    dialect = await resource._context.dialect()
    return dialect.name, dialect.submission_marker(request, idempotency_key)


async def find_submission(resource: Resource, marker: str) -> OrderReply | None:
    """The order that carries ``marker``: pending, open (``filled``) or, from its
    opening deal, already closed (``closed``); ``None`` when nothing carries it.

    Raises ``FxSocketError`` subclasses from the reads.
    """
    positions, pending = await resource.open_orders()
    for order in pending:
        if order.comment == marker:
            return order
    for position in positions:
        if position.comment == marker:
            return OrderReply(
                id=position.id, symbol=position.symbol, type=position.type,
                volume=position.volume, price=position.open_price, status="filled",
                sl=position.sl, tp=position.tp, comment=position.comment,
            )  # fmt: skip
    since = resource._context.clock.wall() - MARKER_MEMORY
    deals = await resource._run(lambda d: d.order_history(since, None))
    for deal in deals:
        # MetaTrader 5 keeps the order's comment on its opening deal (a closing deal's
        # says why it closed); MetaTrader 4 lists the closed order, whose comment a
        # server may extend ("...[sl]").
        if deal.comment.startswith(marker):
            # Markers exist on the terminal dialect only, whose order ids are the
            # ticket's decimal text; the position's ticket is the order's.
            return OrderReply(
                id=str(deal.position or deal.order), symbol=deal.symbol,
                type=deal.type.upper(),  # a deal's own spelling: Buy, Sell
                volume=deal.volume, price=deal.price, status="closed", comment=deal.comment,
            )  # fmt: skip
    return None
