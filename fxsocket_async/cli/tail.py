"""``fxsocket-async quotes tail SYMBOL...``: a live table (rich), or one line per quote.

It reads in the default latest-value mode: a display wants the newest price
of each symbol, never a backlog.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import anyio

from .._client import AsyncFxSocket
from .._core.models import Quote
from .._stream.subscriptions import QuoteSubscription
from ._common import needs, run, single_account

__all__ = ["quote_line", "tail"]

#: Table refreshes per second (a terminal cannot show more).
REFRESH = 8


def quote_line(quote: Quote) -> str:
    return f"{quote.time.isoformat()} {quote.symbol} {quote.bid} {quote.ask}"


def tail(
    symbols: Sequence[str],
    *,
    account: str | None,
    count: int | None,
    duration: float | None,
    plain: bool,
) -> int:
    """Run the command; returns the exit status."""
    live = not plain and sys.stdout.isatty()
    if live:
        needs("rich", "the live table of `quotes tail` (or pass --plain)")

    async def main() -> int:
        async with AsyncFxSocket() as fx:
            account_id = await single_account(fx, account)
            async with fx.quotes(*symbols, account=account_id) as quotes:
                with anyio.move_on_after(duration):
                    if live:
                        await _table(quotes, list(symbols), count)
                    else:
                        await _lines(quotes, count)
        return 0

    return run(main)


async def _lines(quotes: QuoteSubscription, count: int | None) -> None:
    seen = 0
    async for quote in quotes:
        print(quote_line(quote), flush=True)
        seen += 1
        if count is not None and seen >= count:
            return


async def _table(quotes: QuoteSubscription, symbols: list[str], count: int | None) -> None:
    from rich.live import Live

    latest: dict[str, Quote] = {}
    ticks = dict.fromkeys(symbols, 0)
    arrived: dict[str, float] = {}
    seen = 0
    with Live(_render(latest, ticks, arrived), refresh_per_second=REFRESH) as live:
        shown = 0.0
        async for quote in quotes:
            latest[quote.symbol] = quote
            ticks[quote.symbol] = ticks.get(quote.symbol, 0) + 1
            arrived[quote.symbol] = time.monotonic()
            seen += 1
            if time.monotonic() - shown >= 1 / REFRESH:
                live.update(_render(latest, ticks, arrived))
                shown = time.monotonic()
            if count is not None and seen >= count:
                break
        live.update(_render(latest, ticks, arrived))


def _render(latest: dict[str, Quote], ticks: dict[str, int], arrived: dict[str, float]) -> Any:
    from rich.table import Table

    table = Table(title="quotes (latest value)", expand=False)
    for name in ("symbol", "bid", "ask", "spread", "broker time", "quotes", "age"):
        table.add_column(name, justify="left" if name in ("symbol", "broker time") else "right")
    now = time.monotonic()
    for symbol, n in ticks.items():
        quote = latest.get(symbol)
        if quote is None:
            table.add_row(symbol, "-", "-", "-", "-", "0", "-")
            continue
        table.add_row(
            symbol,
            f"{quote.bid}",
            f"{quote.ask}",
            f"{quote.ask - quote.bid:.5g}",
            quote.time.strftime("%H:%M:%S.%f")[:-3],
            f"{n:,}",
            f"{now - arrived[symbol]:.1f} s",
        )
    return table
