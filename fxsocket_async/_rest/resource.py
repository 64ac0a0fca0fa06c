"""What every per-account resource shares: its dialect, the REST client, its pacing bucket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from anyio.abc import TaskGroup

from .._clock import Clock
from .._core.dialect import RestCall, RestDialect
from .._core.models import HistoryPage
from .._exceptions import FxSocketError
from .client import RestClient

__all__ = ["AccountContext", "Resource"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccountContext:
    """One account as its resources reach it.

    ``account_id`` is ``None`` for the reference's bare routes; their pacing
    bucket is then found by ``bare_bucket`` (the server counts both route
    forms of one account together, so they must share a bucket here too).
    """

    rest: RestClient
    dialect: RestDialect
    tasks: TaskGroup
    account_id: str | None
    bare_bucket: Callable[[], Awaitable[str]]
    clock: Clock


class Resource:
    """Base of ``AccountClient`` and ``Orders``: runs its dialect's calls."""

    def __init__(self, context: AccountContext) -> None:
        self._context = context
        self._dialect = context.dialect
        self._tasks = context.tasks
        self.account_id = context.account_id

    async def _run(self, call: RestCall[T], attempts: list[FxSocketError] | None = None) -> T:
        bucket = self.account_id
        if bucket is None:
            bucket = await self._context.bare_bucket()
        return await self._context.rest.run(call, kind="account", bucket=bucket, attempts=attempts)

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
            self._dialect.history_page(offset, limit, start, end, symbol, order_type)
        )
