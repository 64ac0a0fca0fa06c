"""Suite 2: fan-out to N consumers of one symbol, ours and one asyncio.Queue per consumer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Any

import aiohttp

from benchmarks.firehose import ACCOUNT

from .common import BIG_BUFFER, QUOTE_DECODE, Result, bare_connect, client, throughput, url, worker


async def _fan_in(consumers: list[Awaitable[tuple[float, float, int]]]) -> Result:
    results = await asyncio.gather(*consumers)
    t0 = min(r[0] for r in results)
    t1 = max(r[1] for r in results)
    counts = [r[2] for r in results]
    return throughput(sum(counts), t0, t1, min_count=min(counts), consumers=len(counts))


@worker
async def fanout_ours(port: int, n: int, consumers: int) -> Result:
    """Suite 2: ``consumers`` subscriptions of one symbol on one session."""

    async def consume(quotes: Any) -> tuple[float, float, int]:
        await anext(quotes)
        t0 = time.perf_counter()
        count = 0
        async for quote in quotes:
            if quote.bid < 0:
                break
            count += 1
        return t0, time.perf_counter(), count

    async with client(port, n=n, k=1, delay=50) as fx, contextlib.AsyncExitStack() as stack:
        subs = [
            fx.quotes("EURUSD", account=ACCOUNT, buffer=BIG_BUFFER, mode="all")
            for _ in range(consumers)
        ]
        # Entered together: every route exists before the first quote arrives.
        await asyncio.gather(*(stack.enter_async_context(s) for s in subs))
        result = await _fan_in([consume(s) for s in subs])
        result["conflated"] = sum(s.stats().conflated for s in subs)
    return result


@worker
async def fanout_queues(port: int, n: int, consumers: int) -> Result:
    """Suite 2 baseline: the floor's reader puts each quote into one asyncio.Queue per consumer."""
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(consumers)]

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        receive = ws.receive
        text = aiohttp.WSMsgType.TEXT
        decode = QUOTE_DECODE
        puts = [q.put_nowait for q in queues]
        while True:
            msg = await receive()
            if msg.type is not text:
                raise RuntimeError(f"stream ended early: {msg.type}")
            quote = decode(msg.data).data
            for put in puts:
                put(quote)
            if quote.bid < 0:
                return

    async def consume(queue: asyncio.Queue[Any]) -> tuple[float, float, int]:
        get = queue.get
        await get()
        t0 = time.perf_counter()
        count = 0
        while True:
            quote = await get()
            if quote.bid < 0:
                break
            count += 1
        return t0, time.perf_counter(), count

    async with aiohttp.ClientSession() as http:
        ws = await bare_connect(http, url(port, n=n, k=1), ["EURUSD"])
        reader = asyncio.ensure_future(read(ws))
        result = await _fan_in([consume(q) for q in queues])
        await reader
        await ws.close()
    return result
