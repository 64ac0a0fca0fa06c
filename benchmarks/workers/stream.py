"""Suites 1 and 3: one consumer of the firehose, in either dialect's frames, on either transport.

``dialect="terminal"``: the client reads the account record from the firehose
and streams from the account's own socket in the terminal's frame format
(the vendor SDK's ``tick``); the floor reads the same record and socket.
``transport``: ``StreamPolicy(transport=...)`` (issue 13), left at the
library's default when ``None``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp

from benchmarks.firehose import ACCOUNT

from .common import (
    BIG_BUFFER,
    QUOTE_DECODE,
    TICK_DECODE,
    Result,
    bare_connect,
    client,
    terminal_ws_url,
    throughput,
    url,
    worker,
)


@worker
async def stream_floor(port: int, n: int, dialect: str = "reference") -> Result:
    """Suite 1 floor: a bare aiohttp ``receive()`` loop + msgspec, constants in locals."""
    decode: Callable[[Any], Any]
    async with aiohttp.ClientSession() as http:
        if dialect == "terminal":
            ws_url, decode = await terminal_ws_url(http, port, n=n, k=1), TICK_DECODE
        else:
            ws_url, decode = url(port, n=n, k=1), QUOTE_DECODE
        ws = await bare_connect(http, ws_url, ["EURUSD"], dialect=dialect)
        receive = ws.receive
        text = aiohttp.WSMsgType.TEXT
        msg = await receive()
        decode(msg.data)
        t0 = time.perf_counter()
        count = 0
        while True:
            msg = await receive()
            if msg.type is not text:
                raise RuntimeError(f"stream ended early: {msg.type}")
            quote = decode(msg.data).data
            if quote.bid < 0:
                break
            count += 1
        t1 = time.perf_counter()
        await ws.close()
    return throughput(count, t0, t1)


@worker
async def stream_ours(
    port: int,
    n: int,
    buffer: int = BIG_BUFFER,
    mode: str = "all",
    dialect: str = "reference",
    transport: str | None = None,
) -> Result:
    """Suite 1: the public ``async for`` over ``fx.quotes(...)``."""
    async with (
        client(port, dialect=dialect, transport=transport, n=n, k=1) as fx,
        fx.quotes("EURUSD", account=ACCOUNT, buffer=buffer, mode=mode) as quotes,  # type: ignore[arg-type]
    ):
        await anext(quotes)
        t0 = time.perf_counter()
        count = 0
        async for quote in quotes:
            if quote.bid < 0:
                break
            count += 1
        t1 = time.perf_counter()
        stats = quotes.stats()
        used = _transport(fx, dialect)
    return throughput(count, t0, t1, conflated=stats.conflated, transport=used)


@worker
async def batches_ours(
    port: int, n: int, dialect: str = "reference", transport: str | None = None
) -> Result:
    """Suite 3: ``async for batch in quotes.batches()``; mode ``all``: a collector keeps all."""
    async with (
        client(port, dialect=dialect, transport=transport, n=n, k=1) as fx,
        fx.quotes("EURUSD", account=ACCOUNT, buffer=BIG_BUFFER, mode="all") as quotes,
    ):
        batches = quotes.batches()
        first = await anext(batches)
        t0 = time.perf_counter()
        count = len(first) - 1
        n_batches = 0
        done = False
        async for batch in batches:
            n_batches += 1
            for quote in batch:
                if quote.bid < 0:
                    done = True
                    break
                count += 1
            if done:
                break
        t1 = time.perf_counter()
        used = _transport(fx, dialect)
    mean = count / max(n_batches, 1)
    return throughput(count, t0, t1, batches=n_batches, mean_batch=mean, transport=used)


def _transport(fx: Any, dialect: str) -> str:
    """The WebSocket client the account's socket ran on, as the library reports it."""
    stats = fx.stats()["streams"].get(ACCOUNT if dialect == "terminal" else None)
    return str(getattr(stats, "transport", "") or "aiohttp")


@worker
async def stream_vendor(port: int, n: int) -> Result:
    """Suite 1: the vendor SDK's ``AsyncStream`` over its own frame format."""
    from fxsocket.terminal.stream import AsyncStream, Tick

    stream = AsyncStream(ws_url=url(port, n=n, k=1, fmt="vendor"), api_key="x", platform="mt5")
    async with stream as s:
        await s.subscribe_prices("EURUSD")
        events = s.__aiter__()
        async for event in events:
            if type(event) is Tick:
                break
        t0 = time.perf_counter()
        count = 0
        async for event in events:
            if type(event) is Tick:
                if event.data.bid < 0:
                    break
                count += 1
        t1 = time.perf_counter()
        await events.aclose()
    return throughput(count, t0, t1)
