"""``fxsocket-async demo`` (or ``python -m fxsocket_async demo``): a guided tour of the client.

With no ``FXSOCKET_API_KEY`` it starts an embedded simulator and says so on
stderr. Against a real server it only reads (account summary, a quote) unless
``--trade`` is given, because the tour places and closes a real order.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from typing import TextIO

import anyio

from .._client import API_KEY_ENV, AsyncFxSocket
from .._core.events import OrderClosed, OrderModified, OrderOpened, StreamGap
from .._core.models import Account
from .._stream.subscriptions import EventSubscription
from ..simulator import DEMO_API_KEY, Simulator, SimulatorConfig

__all__ = ["run_demo"]

SYMBOL = "EURUSD"
VOLUME = 0.1
QUOTES_PER_CONSUMER = 4
QUOTE_WAIT = 15.0
CONSUMERS = (("consumer 1", ("EURUSD", "GBPUSD")), ("consumer 2", ("EURUSD", "XAUUSD")))


@contextlib.asynccontextmanager
async def _session(err: TextIO) -> AsyncIterator[tuple[AsyncFxSocket, bool]]:
    if os.environ.get(API_KEY_ENV):
        async with AsyncFxSocket() as fx:
            print(f"using the server at {fx.base_url}", file=err)
            yield fx, False
        return
    print(
        f"{API_KEY_ENV} is not set: running against an embedded simulator "
        f"(demo key {DEMO_API_KEY!r})",
        file=err,
    )
    config = SimulatorConfig(provision_delay=1.0, quote_interval=0.1)
    async with (
        Simulator(config) as sim,
        AsyncFxSocket(DEMO_API_KEY, base_url=sim.base_url, ws_url=sim.ws_url) as fx,
    ):
        yield fx, True


async def _linked_account(fx: AsyncFxSocket, out: TextIO) -> Account:
    """Link the demo account and show its status moving until it is connected."""
    async with fx.accounts.watch() as changes:
        account = await fx.accounts.link(
            server="VTMarkets-Demo", login=1234567, password="demo-password", nickname="demo"
        )
        print(f"linked account {account.id} ({account.server}, login {account.login})", file=out)
        with anyio.fail_after(60):
            async for change in changes:
                if change.account_id != account.id:
                    continue
                print(f"  status: {change.data.status}", file=out)
                if change.data.status != "connecting":
                    break
    return await fx.accounts.wait_connected(account.id, timeout=60)


async def _existing_account(fx: AsyncFxSocket, out: TextIO) -> Account | None:
    for account in await fx.accounts.list():
        if account.status == "connected":
            print(f"using connected account {account.id} ({account.server})", file=out)
            return account
    print("no connected account on this key; link one in the dashboard first", file=out)
    return None


async def _trade(fx: AsyncFxSocket, account: Account, out: TextIO) -> None:
    trading = fx.account(account.id)
    quote = await trading.quote(SYMBOL)
    print(f"{SYMBOL} bid {quote.bid} ask {quote.ask}", file=out)
    pip = 0.0001
    order = await trading.orders.create(
        SYMBOL, "BUY", VOLUME, sl=round(quote.bid - 50 * pip, 5), tp=round(quote.ask + 50 * pip, 5)
    )
    print(f"opened {order.type} {order.volume} {order.symbol} at {order.price}", file=out)
    modified = await trading.orders.modify(order.id, sl=round(quote.bid - 30 * pip, 5))
    print(f"moved the stop loss to {modified.sl}", file=out)
    closed = await trading.orders.close(order.id)
    print(f"closed at {closed.close_price}: profit {closed.profit:+.2f}", file=out)
    async for trade in trading.history(symbol=SYMBOL):
        if trade.id == order.id:
            print(
                f"history: {trade.type} {trade.volume} {trade.symbol} "
                f"{trade.open_price} -> {trade.close_price}, profit {trade.profit:+.2f}, "
                f"commission {trade.commission:+.2f}, swap {trade.swap:+.2f}",
                file=out,
            )


async def _print_quotes(
    fx: AsyncFxSocket, account: Account, name: str, symbols: tuple[str, ...], out: TextIO
) -> None:
    """One quote consumer: print a few quotes, then leave (which unsubscribes)."""
    async with fx.quotes(*symbols, account=account.id) as quotes:
        with anyio.move_on_after(QUOTE_WAIT) as waited:
            count = 0
            async for quote in quotes:
                print(f"  [{name}] {quote.symbol} {quote.bid}/{quote.ask}", file=out)
                count += 1
                if count == QUOTES_PER_CONSUMER:
                    break
        if waited.cancelled_caught:
            print(f"  [{name}] no quotes within {QUOTE_WAIT:g} s (market closed?)", file=out)


async def _print_order_events(events: EventSubscription, out: TextIO) -> None:
    """Print order events as they stream in, until an order is closed."""
    async for event in events:
        match event:
            case OrderOpened(data=d):
                print(f"  [events] order_opened {d.id} {d.type} {d.volume} {d.symbol}", file=out)
            case OrderModified(data=d):
                print(f"  [events] order_modified {d.id} sl={d.sl} tp={d.tp}", file=out)
            case OrderClosed(data=d):
                print(f"  [events] order_closed {d.id} at {d.close_price}", file=out)
                return
            case StreamGap(duration=duration):
                print(f"  [events] the stream was down for {duration:.1f} s", file=out)


async def run_demo(
    *, trade: bool = False, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the tour, printing to ``out`` / ``err`` (stdout / stderr); return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    async with _session(err) as (fx, simulated):
        if simulated:
            account: Account | None = await _linked_account(fx, out)
        else:
            account = await _existing_account(fx, out)
        if account is None:
            return 1
        print("streaming quotes to two consumers:", file=out)
        async with anyio.create_task_group() as consumers:
            for name, symbols in CONSUMERS:
                consumers.start_soon(_print_quotes, fx, account, name, symbols, out)
        if simulated or trade:
            async with (
                fx.events(account=account.id) as events,
                anyio.create_task_group() as tasks,
            ):
                tasks.start_soon(_print_order_events, events, out)
                await _trade(fx, account, out)
        else:
            print("read-only tour: pass --trade to place and close a 0.1 lot order", file=out)
        summary = await fx.account(account.id).summary()
        print(
            f"account: balance {summary.balance:.2f} {summary.currency}, "
            f"equity {summary.equity:.2f}, free margin {summary.free_margin:.2f}",
            file=out,
        )
    return 0
