"""A remote consumer of a running bridge: quotes, order events (durable) and REST over NATS.

    fxsocket-async bridge --nats nats://10.0.0.5:4222 --account ACC --symbols EURUSD   # host A
    python examples/bridge_consumer.py --nats nats://10.0.0.5:4222 --account ACC        # host B

It needs no FxSocket key: everything goes through the bridge's session. The
durable consumer ``--durable`` (default ``example``) keeps its position in
JetStream, so a second run prints only the events that happened since the
first one left. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio

from fxsocket_async import FxSocketError
from fxsocket_async.bridge import RemoteFxSocket


async def main(nats: str, account: str, symbol: str, durable: str) -> None:
    async with RemoteFxSocket(nats=nats) as fx:
        status = await fx.bridge_status(account)
        print(f"bridge upstream: {status.state if status else 'no bridge has run'}")
        try:
            print(f"{symbol} now: {await fx.account(account).quote(symbol)}")
        except FxSocketError as exc:
            print(f"quote through the bridge failed: {exc}")
        async with (
            fx.quotes(symbol, account=account) as quotes,
            fx.events(account=account, durable=durable) as events,
        ):

            async def print_quotes() -> None:
                async for quote in quotes:
                    print(f"quote {quote.symbol} {quote.bid}/{quote.ask}")

            async def print_events() -> None:
                async for event in events:
                    print(f"event {type(event).__name__}: {getattr(event, 'data', event)}")

            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(print_quotes())
                tasks.create_task(print_events())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--account", required=True)
    parser.add_argument("--symbol", default="EURUSD")
    parser.add_argument("--durable", default="example")
    args = parser.parse_args()
    try:
        asyncio.run(main(args.nats, args.account, args.symbol, args.durable))
    except KeyboardInterrupt:
        print("stopped")
