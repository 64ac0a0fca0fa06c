"""The REST view of one account that an events stream starts from or recovers against."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .._core.events import AccountStatusData
from .._core.recovery import Snapshot
from .._exceptions import TerminalNotReadyError
from .accounts import Accounts
from .trading import AccountClient

__all__ = ["SnapshotReader"]

#: How many of the newest closed trades a seed remembers as already finished.
SEED_HISTORY = 50


class SnapshotReader:
    """Reads snapshots through the session's REST resources (the stream never calls up)."""

    def __init__(self, accounts: Accounts, account: Callable[[str], AccountClient]) -> None:
        self._accounts = accounts
        self._account = account

    async def seed(self, account_id: str) -> Snapshot:
        """Where a first events consumer starts: open and pending orders, the newest trades.

        An account that is not connected yet seeds empty (its terminal has no
        orders to show). Raises the ``FxSocketError`` of a failed read.
        """
        trading = self._account(account_id)
        account = await self._accounts.get(account_id)
        status = AccountStatusData(status=account.status, error=account.error)
        if account.status != "connected":
            return Snapshot(positions=[], pending=[], history=[], status=status)
        try:
            positions, pending = await trading.open_orders()
        except TerminalNotReadyError:
            return Snapshot(positions=[], pending=[], history=[], status=status)
        history = await trading.newest_trades(SEED_HISTORY)
        return Snapshot(positions=positions, pending=pending, history=history, status=status)

    async def recover(self, account_id: str, watermark: datetime | None) -> Snapshot:
        """Everything a gap may have hidden: orders, history closed since ``watermark``,
        the summary and the status. Raises the ``FxSocketError`` of a failed read."""
        trading = self._account(account_id)
        account = await self._accounts.get(account_id)
        status = AccountStatusData(status=account.status, error=account.error)
        positions, pending = await trading.open_orders()
        summary = await trading.summary()
        history = [t async for t in trading.history(start=watermark, page_size=1000)]
        return Snapshot(
            positions=positions, pending=pending, history=history, summary=summary, status=status
        )
