"""Quickstart: link an account, stream quotes and order events, trade once, read the history.

    python examples/quickstart.py

With FXSOCKET_API_KEY set this talks to that server (FXSOCKET_BASE_URL and
FXSOCKET_WS_URL point it elsewhere, e.g. at a simulator) and really trades
0.01 lots; without it, it starts the embedded simulator first. It can run
again and again against one server: ``accounts.ensure`` links the account
the first time and finds it afterwards. Ctrl-C stops it with one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator

from fxsocket_async import REMOVE, AsyncFxSocket
from fxsocket_async.simulator import DEMO_API_KEY, Simulator, SimulatorConfig
from fxsocket_async.types import OrderClosed, OrderModified, OrderOpened


@contextlib.asynccontextmanager
async def session() -> AsyncIterator[AsyncFxSocket]:
    if os.environ.get("FXSOCKET_API_KEY"):
        async with AsyncFxSocket() as fx:
            yield fx
        return
    print("FXSOCKET_API_KEY is not set: using the embedded simulator", file=sys.stderr)
    async with (
        Simulator(SimulatorConfig(provision_delay=1.0)) as sim,
        AsyncFxSocket(DEMO_API_KEY, base_url=sim.base_url, ws_url=sim.ws_url) as fx,
    ):
        yield fx


async def main() -> None:
    async with session() as fx:
        account = await fx.accounts.ensure(
            server=os.environ.get("MT5_SERVER", "VTMarkets-Demo"),
            login=int(os.environ.get("MT5_LOGIN", "1234567")),
            password=os.environ.get("MT5_PASSWORD", "demo-password"),
            nickname="quickstart",
        )
        account = await fx.accounts.wait_connected(account.id, timeout=300)
        trading = fx.account(account.id)
        print(f"account {account.id}: served by the {await trading.dialect()} dialect")

        # Two consumers share one WebSocket subscription; each reads at its own pace.
        async with (
            fx.quotes("EURUSD", "GBPUSD", account=account.id) as fast,
            fx.quotes("EURUSD", account=account.id) as slow,
        ):
            for _ in range(3):
                quote = await anext(fast)
                print(f"[fast] {quote.symbol} {quote.bid}/{quote.ask}")
            quote = await anext(slow)  # the newest EURUSD quote, however far behind it fell
            print(f"[slow] {quote.symbol} {quote.bid}/{quote.ask}")

        async with fx.events(account=account.id) as events:
            order = await trading.orders.create(
                "EURUSD",
                "BUY",
                0.01,
                sl=round(quote.bid - 0.005, 5),
                tp=round(quote.ask + 0.005, 5),
            )
            await trading.orders.modify(order.id, sl=round(quote.bid - 0.003, 5), tp=REMOVE)
            closed = await trading.orders.close(order.id)
            print(f"closed {order.id} at {closed.close_price}, profit {closed.profit:+.2f}")
            async for event in events:  # lossless, in order: opened, modified, closed
                match event:
                    case OrderOpened() | OrderModified() | OrderClosed():
                        print(f"[events] {type(event).__name__} {event.data}")
                if isinstance(event, OrderClosed) and event.data.id == order.id:
                    break

        print(await trading.summary())
        async for trade in trading.history(symbol="EURUSD"):
            print(trade)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # Ctrl-C: main() has left its blocks; no traceback
        print("interrupted", file=sys.stderr)
        sys.exit(130)
