"""History queries: the account's closed and cancelled trades, filtered and paged."""

from __future__ import annotations

from datetime import datetime

from .._core.models import HISTORY_MAX_LIMIT, HistoryPage
from ._errors import SimError
from ._records import AccountRecord

__all__ = ["history_page"]


def history_page(
    account: AccountRecord,
    *,
    start: datetime | None,
    end: datetime | None,
    symbol: str | None,
    order_type: str | None,
    offset: int,
    limit: int,
) -> HistoryPage:
    """The trades closed in ``[start, end]`` that match, oldest first, from ``offset``.

    Raises ``SimError`` 400 ``invalid_limit``, ``invalid_offset`` or ``invalid_range``.
    """
    if not 1 <= limit <= HISTORY_MAX_LIMIT:
        raise SimError(400, "invalid_limit", f"limit must be between 1 and {HISTORY_MAX_LIMIT}")
    if offset < 0:
        raise SimError(400, "invalid_offset", "offset must be >= 0")
    if start is not None and end is not None and start > end:
        raise SimError(400, "invalid_range", "from must not be later than to")
    matches = [
        t
        for t in account.history
        if (symbol is None or t.symbol == symbol)
        and (order_type is None or t.type == order_type)
        and (start is None or (t.closed_at is not None and t.closed_at >= start))
        and (end is None or (t.closed_at is not None and t.closed_at <= end))
    ]
    return HistoryPage(trades=matches[offset : offset + limit], total=len(matches))
