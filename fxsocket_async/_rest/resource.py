"""What every per-account resource shares: its dialect, the REST client, its pacing bucket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import anyio
from anyio.abc import TaskGroup

from .._clock import Clock
from .._core.dialect import RestCall, RestDialect
from .._core.market import SymbolInfo
from .._core.models import HistoryPage, OrderReply, Position
from .._dialects.reference import ReferenceManagement
from .._exceptions import FxSocketError
from .client import RestClient

__all__ = ["AccountContext", "BareBucket", "Resource"]

#: The pacing bucket of the key's management routes.
MANAGEMENT_BUCKET = "(management)"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccountContext:
    """One account as its resources reach it.

    ``account_id`` is ``None`` for the reference's bare routes; their pacing
    bucket is then found by ``bare_bucket`` (the server counts both route
    forms of one account together, so they must share a bucket here too).
    """

    rest: RestClient
    #: The account's dialect, decided on first use (the account's record says which).
    dialect: Callable[[], Awaitable[RestDialect]]
    tasks: TaskGroup
    account_id: str | None
    bare_bucket: Callable[[], Awaitable[str]]
    clock: Clock
    #: The session's caches: symbol specs by (account, symbol), UTC offsets by account.
    symbols: dict[tuple[str, str], SymbolInfo] = field(default_factory=dict)
    utc_offsets: dict[str, int] = field(default_factory=dict)


class Resource:
    """Base of ``AccountClient`` and ``Orders``: runs its dialect's calls."""

    def __init__(self, context: AccountContext) -> None:
        self._context = context
        self._tasks = context.tasks
        self.account_id = context.account_id

    async def _run(
        self,
        make: Callable[[RestDialect], RestCall[T]],
        attempts: list[FxSocketError] | None = None,
    ) -> T:
        """Run the call ``make`` spells in the account's dialect. Raises what the
        dialect and the call raise (``FxSocketError`` subclasses)."""
        return await self._send(make(await self._context.dialect()), attempts)

    async def _send(self, call: RestCall[T], attempts: list[FxSocketError] | None = None) -> T:
        bucket = self.account_id
        if bucket is None:
            bucket = await self._context.bare_bucket()
        return await self._context.rest.run(call, kind="account", bucket=bucket, attempts=attempts)

    async def open_orders(self) -> tuple[list[Position], list[OrderReply]]:
        """Open positions and pending orders: read at one moment where the dialect can
        (the terminal's ``/OpenedOrders``), else one after the other.

        Read apart, pending orders come first: a pending order that fills between
        the two reads is then in both (and counted as the position it became),
        never in neither, which would read as cancelled.

        Raises ``FxSocketError`` subclasses as ``positions()`` does.
        """
        call = (await self._context.dialect()).open_orders()
        if call is not None:
            return await self._send(call)
        pending = await self._run(lambda d: d.pending_orders())
        positions = await self._run(lambda d: d.positions())
        filled = {p.id for p in positions}
        return positions, [order for order in pending if order.id not in filled]

    async def _history_page(
        self,
        offset: int,
        limit: int,
        start: datetime | None = None,
        end: datetime | None = None,
        symbol: str | None = None,
        order_type: str | None = None,
    ) -> HistoryPage:
        """One page of the account's closed trades."""
        return await self._run(
            lambda d: d.history_page(offset, limit, start, end, symbol, order_type)
        )


class BareBucket:
    """The pacing bucket of the bare routes: the key's only account, found once.

    The server counts the bare and the per-account routes of one account
    together, so they share its bucket here; one account listing finds it.
    """

    def __init__(self, rest: RestClient, management: ReferenceManagement) -> None:
        self._rest = rest
        self._management = management
        self._bucket: str | None = None
        self._lock = anyio.Lock()

    async def __call__(self) -> str:
        """Raises the ``FxSocketError`` of a failed listing."""
        if self._bucket is None:
            async with self._lock:
                if self._bucket is None:
                    accounts = await self._rest.run(
                        self._management.list_accounts(),
                        kind="management",
                        bucket=MANAGEMENT_BUCKET,
                    )
                    self._bucket = accounts[0].id if len(accounts) == 1 else "(default account)"
        return self._bucket
