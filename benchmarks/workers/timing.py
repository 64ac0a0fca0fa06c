"""Suites 4 and 5: latency of paced frames, and a slow consumer beside the firehose."""

from __future__ import annotations

import array
import asyncio
import gc
import os
import resource
import time
from typing import Any

import aiohttp
import msgspec

from benchmarks.firehose import ACCOUNT, SYMBOLS
from fxsocket_async._core.events import Subscribe

from .common import QUOTE_DECODE, Result, bare_connect, client, rss, url, worker


def _percentiles(samples: array.array[int], warmup: int) -> Result:
    values = sorted(samples[warmup:])
    if not values:
        return {"count": 0}

    def pct(p: float) -> float:
        return values[min(len(values) - 1, int(p / 100 * len(values)))] / 1000  # us

    return {
        "count": len(values),
        "p50_us": pct(50),
        "p99_us": pct(99),
        "p999_us": pct(99.9),
        "max_us": values[-1] / 1000,
    }


def _stamp(bid: float) -> int:
    return round(bid * 1e9)


@worker
async def latency_ours(port: int, rate: int, secs: float, warmup: int) -> Result:
    """Suite 4: paced frames through ``fx.quotes`` (default buffer and mode)."""
    samples = array.array("q")
    append = samples.append
    clock = time.monotonic_ns
    async with (
        client(port, rate=rate, secs=secs, k=1, delay=200) as fx,
        fx.quotes("EURUSD", account=ACCOUNT) as quotes,
    ):
        async for quote in quotes:
            now = clock()
            if quote.bid < 0:
                break
            append(now - _stamp(quote.bid))
        conflated = quotes.stats().conflated
    return {**_percentiles(samples, warmup), "conflated": conflated}


@worker
async def latency_floor(port: int, rate: int, secs: float, warmup: int) -> Result:
    """Suite 4 floor: the same paced frames through the bare aiohttp loop."""
    samples = array.array("q")
    append = samples.append
    clock = time.monotonic_ns
    async with aiohttp.ClientSession() as http:
        ws = await bare_connect(http, url(port, rate=rate, secs=secs, k=1, delay=200), ["EURUSD"])
        receive = ws.receive
        text = aiohttp.WSMsgType.TEXT
        decode = QUOTE_DECODE
        while True:
            msg = await receive()
            if msg.type is not text:
                raise RuntimeError(f"stream ended early: {msg.type}")
            quote = decode(msg.data).data
            now = clock()
            if quote.bid < 0:
                break
            append(now - _stamp(quote.bid))
        await ws.close()
    return _percentiles(samples, warmup)


@worker
async def latency_raw(port: int, rate: int, secs: float, warmup: int) -> Result:
    """Suite 4 noise floor: a blocking raw socket, no asyncio, no WebSocket parser.

    It finds the stamps with a regular expression in whatever bytes arrive, so
    its figures are the machine's own: loopback, scheduler and clock.
    """
    return await asyncio.to_thread(_latency_raw, port, rate, secs, warmup)


def _latency_raw(port: int, rate: int, secs: float, warmup: int) -> Result:
    import base64
    import re
    import socket

    stamp = re.compile(rb'"bid":(-?[0-9.]+)')
    samples = array.array("q")
    clock = time.monotonic_ns
    with socket.create_connection(("127.0.0.1", port), timeout=secs + 30) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /v1/stream?rate={rate}&secs={secs}&k=1&delay=200 HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        body = msgspec.json.encode(
            Subscribe(id=1, channel="quotes", account_id=ACCOUNT, symbols=["EURUSD"])
        )
        sock.sendall(bytes((0x81, 0x80 | len(body))) + b"\0\0\0\0" + body)  # zero mask
        tail = b""
        while True:
            data = sock.recv(1 << 16)
            now = clock()
            if not data:
                break
            data = tail + data
            cut = data.rfind(b"}}")  # stamps in complete frames only
            tail = data[cut + 2 :]
            values = [float(v) for v in stamp.findall(data, 0, cut + 2)]
            if any(v < 0 for v in values):
                samples.extend(now - round(v * 1e9) for v in values if v >= 0)
                break
            samples.extend(now - round(v * 1e9) for v in values if v >= 0)
    return _percentiles(samples, warmup)


# ------------------------------------------------------- slow consumer


def _newest_seq(received: int, k: int, symbol_index: int) -> int:
    """The newest quote number for a symbol among quotes 0..received-1."""
    last = received - 1
    return last - ((last - symbol_index) % k)


def _seq(bid: float) -> int:
    return round((bid - 1.0) * 1e7)


@worker
async def slow_ours(port: int, n: int, k: int, per_second: float) -> Result:
    """Suite 5: a consumer reading ``per_second`` quotes/s beside the firehose (defaults).

    Staleness is checked at every read against what the library has received
    so far: ``delivered + conflated + depth`` of this subscription (from its
    public ``stats()``) is the number of quotes pushed to it, i.e. quotes
    0..r-1 of the stream, all of which route to it. The quote read is fresh if
    it is the newest of its symbol among those.
    """
    index = {s: i for i, s in enumerate(SYMBOLS[:k])}
    pause = 1 / per_second
    gc.collect()
    async with (
        client(port, n=n, k=k) as fx,
        fx.quotes(*SYMBOLS[:k], account=ACCOUNT) as quotes,
    ):
        base = peak = rss()
        reads = stale = worst = 0
        stale_at: list[list[int]] = []  # [read number, quotes behind, quotes received]
        async for quote in quotes:
            if quote.bid < 0:
                break
            s = quotes.stats()
            received = s.delivered + s.conflated + s.depth
            newest = _newest_seq(received, k, index[quote.symbol])
            behind = (newest - _seq(quote.bid)) // k
            reads += 1
            if behind:
                stale += 1
                worst = max(worst, behind)
                if len(stale_at) < 10:
                    stale_at.append([reads, behind, received])
            peak = max(peak, rss())
            await asyncio.sleep(pause)
        stats = quotes.stats()
        peak = max(peak, rss())
    return {
        "reads": reads,
        "stale": stale,
        "worst_behind": worst,
        "stale_at": stale_at,
        "conflated": stats.conflated,
        "rss_growth_mb": (peak - base) / 1e6,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
    }


@worker
async def slow_queue(port: int, n: int, k: int, per_second: float) -> Result:
    """Suite 5 contrast: the floor's reader feeding an unbounded asyncio.Queue."""
    index = {s: i for i, s in enumerate(SYMBOLS[:k])}
    pause = 1 / per_second
    queue: asyncio.Queue[Any] = asyncio.Queue()
    received = 0
    done = False

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        nonlocal received, done
        receive = ws.receive
        decode = QUOTE_DECODE
        while True:
            msg = await receive()
            quote = decode(msg.data).data
            if quote.bid < 0:
                done = True
                return
            received += 1
            queue.put_nowait(quote)

    gc.collect()
    async with aiohttp.ClientSession() as http:
        ws = await bare_connect(http, url(port, n=n, k=k), list(SYMBOLS[:k]))
        base = peak = rss()
        reader = asyncio.ensure_future(read(ws))
        reads = stale = worst = 0
        while not done:
            quote = await queue.get()
            newest = _newest_seq(received, k, index[quote.symbol])
            behind = (newest - _seq(quote.bid)) // k
            reads += 1
            if behind:
                stale += 1
                worst = max(worst, behind)
            peak = max(peak, rss())
            await asyncio.sleep(pause)
        await reader
        peak = max(peak, rss())
        await ws.close()
    return {
        "reads": reads,
        "stale": stale,
        "worst_behind": worst,
        "backlog": queue.qsize(),
        "rss_growth_mb": (peak - base) / 1e6,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
    }
