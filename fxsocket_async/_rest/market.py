"""What an account's own terminal tells: symbols and their specs, its clock, calculators,
deal and position history, health. Part of ``fx.account(id)``.

These come from the terminal dialect; an account served by the reference
routes raises ``UnsupportedError`` for them (before anything is sent).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .._core.market import (
    ClosedPosition,
    Deal,
    MarginCalc,
    ProfitCalc,
    ServerTimezone,
    SymbolInfo,
    TerminalHealth,
)
from .._core.validation import check_order_type, check_positive, check_range, check_symbol
from .resource import Resource

__all__ = ["MarketResource"]


class MarketResource(Resource):
    """The terminal's facts about one account (a base of ``AccountClient``)."""

    async def symbols(self) -> list[str]:
        """Every symbol the account's terminal quotes.

        Raises ``UnsupportedError`` on the reference routes, or an ``FxSocketError``.
        """
        return await self._run(lambda d: d.symbols())

    async def symbol_info(self, symbol: str) -> SymbolInfo:
        """A symbol's contract: digits, contract size, volume min/max/step, trading
        sessions, commissions, swaps. Read once per session and symbol.

        Raises ``ValidationError``, ``UnsupportedError`` on the reference routes,
        ``NotFoundError`` for an unknown symbol, or another ``FxSocketError``.
        """
        check_symbol(symbol)
        cache = self._context.symbols
        key = (self.account_id or "", symbol)
        info = cache.get(key)
        if info is None:
            info = cache[key] = await self._run(lambda d: d.symbol_info(symbol))
        return info

    async def server_timezone(self) -> ServerTimezone:
        """The broker server's clock and its offset from UTC.

        Raises ``UnsupportedError`` on the reference routes, or an ``FxSocketError``.
        """
        return await self._run(lambda d: d.server_timezone())

    async def to_utc(self, broker_time: datetime) -> datetime:
        """A market time (the broker's server time, which the wire labels ``Z``) in UTC.

        Uses ``server_timezone()``, read once per session. Raises what it raises.
        """
        offset = self._context.utc_offsets.get(self.account_id or "")
        if offset is None:
            zone = await self.server_timezone()
            offset = self._context.utc_offsets[self.account_id or ""] = zone.utc_offset_seconds
        naive = broker_time.replace(tzinfo=None)
        return (naive - timedelta(seconds=offset)).replace(tzinfo=UTC)

    async def calc_margin(self, symbol: str, type: str, volume: float, price: float) -> MarginCalc:
        """The margin an order would need, as the terminal computes it.

        Raises ``ValidationError`` (before sending), ``UnsupportedError`` on the
        reference routes, or an ``FxSocketError``.
        """
        check_symbol(symbol)
        kind = check_order_type(type)
        volume, price = check_positive("volume", volume), check_positive("price", price)
        return await self._run(lambda d: d.calc_margin(symbol, kind, volume, price))

    async def calc_profit(
        self, symbol: str, type: str, volume: float, price_open: float, price_close: float
    ) -> ProfitCalc:
        """The profit a trade from ``price_open`` to ``price_close`` would make.

        Raises ``ValidationError`` (before sending), ``UnsupportedError`` on the
        reference routes, or an ``FxSocketError``.
        """
        check_symbol(symbol)
        kind = check_order_type(type)
        volume = check_positive("volume", volume)
        opened = check_positive("price_open", price_open)
        closed = check_positive("price_close", price_close)
        return await self._run(lambda d: d.calc_profit(symbol, kind, volume, opened, closed))

    async def order_history(
        self, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[Deal]:
        """The account's deals (``In`` and ``Out``) between ``start`` and ``end``.

        Raises ``ValidationError``, ``UnsupportedError`` on the reference routes
        (use ``history()``), or an ``FxSocketError``.
        """
        check_range(start, end)
        return await self._run(lambda d: d.order_history(start, end))

    async def position_history(
        self, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[ClosedPosition]:
        """The account's closed round trips between ``start`` and ``end``.

        Raises ``ValidationError``, ``UnsupportedError`` on the reference routes
        (use ``history()``), or an ``FxSocketError``.
        """
        check_range(start, end)
        return await self._run(lambda d: d.position_history(start, end))

    async def health(self) -> TerminalHealth:
        """The terminal's health: ``/status`` and its ``/livez`` and ``/healthz`` probes.

        A terminal that is not ready answers, it does not fail: ``ready`` is
        then ``False``. Raises ``UnsupportedError`` on the reference routes, or
        an ``FxSocketError``.
        """
        details = await self._run(lambda d: d.status())
        live = await self._run(lambda d: d.probe("/livez"))
        checks = await self._run(lambda d: d.probe("/healthz"))
        status = str(details.get("status", ""))
        return TerminalHealth(
            status=status, ready=status == "ready", live=live, checks=checks, details=details
        )
