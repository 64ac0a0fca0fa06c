"""What the end-to-end tests run in processes of their own: ``python -m tests.bridge.child``.

- ``bridge``: a ``Bridge`` on an upstream session (the simulator's URLs from the
  ``FXSOCKET_*`` environment), with short reconnect delays; prints ``READY``.
- ``events``: one ``RemoteFxSocket`` events consumer; prints ``READY``, then one
  JSON line per event, and leaves cleanly after ``--count`` events or on SIGTERM.
- ``quotes``: ``--consumers`` quote subscriptions in one process; prints ``READY``
  (or, with ``--first``, the first quote of each consumer) and one JSON line per quote.
- ``order``: one ``orders.create`` through the bridge; prints its reply or error.

Every line is flushed at once; the test reads them with deadlines (``procs.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import Any

import msgspec

from fxsocket_async import AsyncFxSocket, FxSocketError, RetryPolicy, StreamPolicy, always_open
from fxsocket_async.bridge import Bridge, RemoteFxSocket
from fxsocket_async.bridge._wire import event_id

#: Reconnects in tens of milliseconds, as the stream suite's FAST_STREAM.
FAST_STREAM = StreamPolicy(
    ping_interval=60.0,
    dead_after=60.0,
    quote_silence=None,
    market_open=always_open,
    reconnect_initial=0.02,
    reconnect_max=0.1,
)


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields, default=str) + "\n")
    sys.stdout.flush()


def stop_on_sigterm() -> asyncio.Event:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    return stop


async def run_bridge(args: argparse.Namespace) -> None:
    stop = stop_on_sigterm()
    retry = RetryPolicy(initial_delay=args.retry_delay, max_delay=max(args.retry_delay, 8.0))
    async with (
        AsyncFxSocket(os.environ["FXSOCKET_API_KEY"], stream=FAST_STREAM, retry=retry) as fx,
        Bridge(
            fx,
            nats=args.nats,
            accounts=args.account,
            symbols=args.symbols.split(",") if args.symbols else (),
            prefix=args.prefix,
            monitor_interval=0.2,
        ) as bridge,
    ):
        await bridge.ready(20)
        say(kind="ready", epoch=bridge.epoch)
        failed = asyncio.ensure_future(bridge.wait())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({failed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (failed, stopped):
            task.cancel()


async def run_events(args: argparse.Namespace) -> None:
    stop = stop_on_sigterm()
    async with (
        RemoteFxSocket(nats=args.nats, prefix=args.prefix) as fx,
        fx.events(account=args.account[0], durable=args.durable, ack_wait=args.ack_wait) as events,
    ):
        say(kind="ready")
        seen = 0
        waiter = asyncio.ensure_future(stop.wait())
        while args.count is None or seen < args.count:
            nxt = asyncio.ensure_future(events.__anext__())
            done, _ = await asyncio.wait({nxt, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if nxt not in done:
                nxt.cancel()
                break
            event = nxt.result()
            seen += 1
            tag = type(event).__struct_config__.tag or "stream_gap"
            data = getattr(event, "data", None)
            say(
                kind="event",
                type=tag,
                id=getattr(data, "id", None),
                recovered=getattr(event, "recovered", False),
                msg_id=event_id(args.account[0], event),
            )
        waiter.cancel()
    say(kind="done", seen=seen)


async def run_quotes(args: argparse.Namespace) -> None:
    stop = stop_on_sigterm()
    symbols = args.symbols.split(",")
    async with RemoteFxSocket(nats=args.nats, prefix=args.prefix) as fx:
        subs = [
            fx.quotes(*symbols, account=args.account[0], mode="all") for _ in range(args.consumers)
        ]
        for sub in subs:
            await sub.__aenter__()
        say(kind="ready")

        async def consume(index: int, sub: Any) -> None:
            async for quote in sub:
                say(kind="quote", consumer=index, symbol=quote.symbol, bid=quote.bid)

        tasks = [asyncio.ensure_future(consume(i, s)) for i, s in enumerate(subs)]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sub in subs:
            say(kind="stats", **msgspec.structs.asdict(sub.stats()))
            await sub.aclose()


async def run_order(args: argparse.Namespace) -> None:
    async with RemoteFxSocket(
        nats=args.nats, prefix=args.prefix, request_timeout=args.timeout, attempt_timeout=1.0
    ) as fx:
        try:
            reply = await fx.account(args.account[0]).orders.create(
                args.symbol, "BUY", 0.1, idempotency_key=args.key
            )
        except FxSocketError as exc:
            say(kind="error", type=type(exc).__name__, message=exc.message)
            return
        say(kind="order", id=reply.id, resends=fx.stats()["rpc"]["resends"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("bridge", "events", "quotes", "order"))
    parser.add_argument("--nats", required=True)
    parser.add_argument("--account", action="append", required=True)
    parser.add_argument("--prefix", default="fxsocket")
    parser.add_argument("--symbols", default="")
    parser.add_argument("--symbol", default="EURUSD")
    parser.add_argument("--durable")
    parser.add_argument("--count", type=int)
    parser.add_argument("--ack-wait", type=float, default=30.0)
    parser.add_argument("--consumers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--key")
    parser.add_argument("--retry-delay", type=float, default=0.05)
    args = parser.parse_args()
    run = {"bridge": run_bridge, "events": run_events, "quotes": run_quotes, "order": run_order}
    asyncio.run(run[args.role](args))


if __name__ == "__main__":
    main()
