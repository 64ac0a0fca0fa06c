"""One measurement per process: ``python -m benchmarks.workers '<json spec>'``.

``run.py`` starts each measurement (one contender, one repetition) in a fresh
process, so that no run inherits another's heap, caches or RSS peak, and the
servers (the firehose, the REST simulator) run in processes of their own. The
spec names a function of this module and its parameters; the result is one
JSON line on stdout.

Timing convention for throughput: the clock starts when the first quote has
reached the consumer and stops when the consumer sees the end sentinel; the
first quote is not counted. Every contender runs the same consumer body per
quote (compare the bid with the sentinel, count).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import gc
import json
import os
import resource
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from benchmarks.firehose import ACCOUNT, SYMBOLS, quote_payload
from fxsocket_async import AsyncFxSocket, RateLimit, StreamPolicy, always_open
from fxsocket_async._core.events import QuoteEvent, Subscribe, Subscribed
from fxsocket_async._dialects.reference import EVENT_DECODER

Result = dict[str, Any]
BIG_BUFFER = 1 << 16  # suites 1-3 deliver every quote: no conflation allowed

_WORKERS: dict[str, Callable[..., Awaitable[Result]]] = {}


def worker(fn: Callable[..., Awaitable[Result]]) -> Callable[..., Awaitable[Result]]:
    _WORKERS[fn.__name__] = fn
    return fn


def _url(port: int, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"ws://127.0.0.1:{port}/v1/stream?{query}"


@contextlib.asynccontextmanager
async def _client(ws_url: str) -> AsyncIterator[AsyncFxSocket]:
    """A session on the firehose, its WebSocket opened before the first subscription.

    Opening it first keeps the connection's setup out of every measurement;
    the firehose starts pumping on the ``quotes`` subscribe and stops after the
    sentinels, so no time-out or silence check matters here.
    """
    base = ws_url.split("/v1/")[0].replace("ws://", "http://")
    policy = StreamPolicy(market_open=always_open, quote_silence=None)
    async with AsyncFxSocket(
        api_key="x", base_url=base, ws_url=ws_url, stream=policy, dialect="reference"
    ) as fx:
        await fx.connect_stream()
        yield fx


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _throughput(count: int, t0: float, t1: float, **extra: Any) -> Result:
    seconds = t1 - t0
    return {"count": count, "seconds": seconds, "rate": count / seconds, **extra}


# ------------------------------------------------ the bare aiohttp floor


async def _bare_connect(
    http: aiohttp.ClientSession, url: str, symbols: list[str]
) -> aiohttp.ClientWebSocketResponse:
    """The same ws_connect options as the library's, then subscribe and read the ack."""
    ws = await http.ws_connect(
        url,
        autoping=True,
        heartbeat=None,
        timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=1.0),
        max_msg_size=16 * 1024 * 1024,
        decode_text=False,
    )
    sub = Subscribe(id=1, channel="quotes", account_id=ACCOUNT, symbols=symbols)
    await ws.send_str(msgspec.json.encode(sub).decode())
    while True:
        msg = await ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"no ack: {msg.type}")
        if isinstance(EVENT_DECODER.decode(msg.data), Subscribed):
            return ws


# The floor decodes into the very Struct the library yields, with a decoder of
# that one type (the library's decoder handles the whole tagged union).
_QUOTE_DECODE = msgspec.json.Decoder(QuoteEvent).decode


@worker
async def stream_floor(port: int, n: int) -> Result:
    """Suite 1 floor: a bare aiohttp ``receive()`` loop + msgspec, constants in locals."""
    async with aiohttp.ClientSession() as http:
        ws = await _bare_connect(http, _url(port, n=n, k=1), ["EURUSD"])
        receive = ws.receive
        text = aiohttp.WSMsgType.TEXT
        decode = _QUOTE_DECODE
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
    return _throughput(count, t0, t1)


@worker
async def stream_ours(port: int, n: int, buffer: int = BIG_BUFFER, mode: str = "all") -> Result:
    """Suite 1: the public ``async for`` over ``fx.quotes(...)``."""
    async with (
        _client(_url(port, n=n, k=1)) as fx,
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
    return _throughput(count, t0, t1, conflated=stats.conflated)


@worker
async def stream_vendor(port: int, n: int) -> Result:
    """Suite 1: the vendor SDK's ``AsyncStream`` over its own frame format."""
    from fxsocket.terminal.stream import AsyncStream, Tick

    stream = AsyncStream(ws_url=_url(port, n=n, k=1, fmt="vendor"), api_key="x", platform="mt5")
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
    return _throughput(count, t0, t1)


# ------------------------------------------------------------- fan-out


async def _fan_in(consumers: list[Awaitable[tuple[float, float, int]]]) -> Result:
    results = await asyncio.gather(*consumers)
    t0 = min(r[0] for r in results)
    t1 = max(r[1] for r in results)
    counts = [r[2] for r in results]
    return _throughput(sum(counts), t0, t1, min_count=min(counts), consumers=len(counts))


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

    async with _client(_url(port, n=n, k=1, delay=50)) as fx, contextlib.AsyncExitStack() as stack:
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
        decode = _QUOTE_DECODE
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
        ws = await _bare_connect(http, _url(port, n=n, k=1), ["EURUSD"])
        reader = asyncio.ensure_future(read(ws))
        result = await _fan_in([consume(q) for q in queues])
        await reader
        await ws.close()
    return result


# ------------------------------------------------------------- batches


@worker
async def batches_ours(port: int, n: int) -> Result:
    """Suite 3: ``async for batch in quotes.batches()``; mode ``all``: a collector keeps all."""
    async with (
        _client(_url(port, n=n, k=1)) as fx,
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
    return _throughput(count, t0, t1, batches=n_batches, mean_batch=count / max(n_batches, 1))


# ------------------------------------------------------------- latency


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
        _client(_url(port, rate=rate, secs=secs, k=1, delay=200)) as fx,
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
        ws = await _bare_connect(http, _url(port, rate=rate, secs=secs, k=1, delay=200), ["EURUSD"])
        receive = ws.receive
        text = aiohttp.WSMsgType.TEXT
        decode = _QUOTE_DECODE
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
        _client(_url(port, n=n, k=k)) as fx,
        fx.quotes(*SYMBOLS[:k], account=ACCOUNT) as quotes,
    ):
        base = peak = _rss()
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
            peak = max(peak, _rss())
            await asyncio.sleep(pause)
        stats = quotes.stats()
        peak = max(peak, _rss())
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
        decode = _QUOTE_DECODE
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
        ws = await _bare_connect(http, _url(port, n=n, k=k), list(SYMBOLS[:k]))
        base = peak = _rss()
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
            peak = max(peak, _rss())
            await asyncio.sleep(pause)
        await reader
        peak = max(peak, _rss())
        await ws.close()
    return {
        "reads": reads,
        "stale": stale,
        "worst_behind": worst,
        "backlog": queue.qsize(),
        "rss_growth_mb": (peak - base) / 1e6,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
    }


# -------------------------------------------------------------- decode


def _decoders() -> dict[str, tuple[Callable[[bytes], Any], str]]:
    import json as stdlib_json

    decoders: dict[str, tuple[Callable[[bytes], Any], str]] = {
        "ours": (EVENT_DECODER.decode, "ours"),
        "msgspec_quote_only": (_QUOTE_DECODE, "ours"),
        "json_loads": (stdlib_json.loads, "ours"),
    }
    try:
        from datetime import datetime
        from typing import Literal

        import pydantic
    except ImportError:
        return decoders

    class QuoteModel(pydantic.BaseModel):
        symbol: str
        bid: float
        ask: float
        time: datetime
        spread: float | None = None

    class QuoteEventModel(pydantic.BaseModel):
        type: Literal["quote"]
        account_id: str = ""
        data: QuoteModel

    validate = QuoteEventModel.model_validate
    decoders["pydantic_json"] = (QuoteEventModel.model_validate_json, "ours")
    decoders["pydantic_loads_validate"] = (lambda f: validate(stdlib_json.loads(f)), "ours")
    try:
        from fxsocket.terminal.stream import parse_event
    except ImportError:
        return decoders
    decoders["vendor_sdk"] = (lambda f: parse_event(stdlib_json.loads(f)), "vendor")
    return decoders


@worker
async def decode(frames: int, repeat: int, reps: int, names: list[str] | None = None) -> Result:
    """Suite 6: ns per frame, contenders interleaved inside this one process."""
    decoders = _decoders()
    payloads = {
        fmt: [quote_payload(fmt, j, 1) for j in range(frames)] for fmt in ("ours", "vendor")
    }
    chosen = [n for n in (names or list(decoders)) if n in decoders]
    timings: dict[str, list[float]] = {n: [] for n in chosen}
    for name in chosen:  # warm up (and check) each once
        fn, fmt = decoders[name]
        for f in payloads[fmt][:100]:
            fn(f)
    for _ in range(reps):
        for name in chosen:
            fn, fmt = decoders[name]
            batch = payloads[fmt]
            t0 = time.perf_counter_ns()
            for _ in range(repeat):
                for f in batch:
                    fn(f)
            timings[name].append((time.perf_counter_ns() - t0) / (repeat * len(batch)))
    return {"ns": timings}


# ---------------------------------------------------------------- REST


async def _hammer(call: Callable[[], Awaitable[Any]], total: int, in_flight: int) -> float:
    remaining = total

    async def one_lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    t0 = time.perf_counter()
    await asyncio.gather(*(one_lane() for _ in range(in_flight)))
    return time.perf_counter() - t0


@worker
async def rest_ours(base_url: str, account: str, total: int, in_flight: int) -> Result:
    """Suite 7: ``fx.account(id).quote()`` with client pacing off."""
    limits = RateLimit(per_account=None, management=None)
    async with AsyncFxSocket(api_key="bench", base_url=base_url, rate_limit=limits) as fx:
        trading = fx.account(account)
        await _hammer(lambda: trading.quote("EURUSD"), in_flight, in_flight)  # open connections
        seconds = await _hammer(lambda: trading.quote("EURUSD"), total, in_flight)
        retries = fx.stats()["retries"]
    return {"count": total, "seconds": seconds, "rate": total / seconds, "retries": retries}


@worker
async def rest_vendor(base_url: str, account: str, total: int, in_flight: int) -> Result:
    """Suite 7: the vendor SDK's ``AsyncTerminalClient.quote()`` (its default httpx pool)."""
    from fxsocket.terminal.client import AsyncTerminalClient

    async with AsyncTerminalClient(base_url=base_url, api_key="bench", platform="mt5") as client:
        await _hammer(lambda: client.quote("EURUSD"), in_flight, in_flight)
        seconds = await _hammer(lambda: client.quote("EURUSD"), total, in_flight)
    return {"count": total, "seconds": seconds, "rate": total / seconds}


# ------------------------------------------------------------- collect


def _parquet_rows(folder: Path) -> int:
    """Rows in the finished Parquet files under ``folder``, from their footers."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in folder.rglob("*.parquet"))


@worker
async def collect_ours(port: int, n: int) -> Result:
    """Suite 8: the firehose into ``collect`` (its ``Collector`` and ``ParquetSink``).

    The clock starts at the first batch handed to the sink and stops when the
    sink is closed: every file sealed. The firehose's end sentinels are not
    written. RSS: this process's peak (the event loop's side) and the writer
    process's (its only child, reaped by the close: ``RUSAGE_CHILDREN``).
    """
    import tempfile

    from fxsocket_async.collect import Collector, ParquetSink

    class Sink(ParquetSink):
        first: float | None = None
        sentinels = 0
        end: asyncio.Event

        async def write(self, batch: Any, *, account: str | None = None) -> None:
            if self.first is None:
                self.first = time.perf_counter()
            if batch and batch[-1].bid < 0:  # the sentinels come last
                ticks = [q for q in batch if q.bid >= 0]
                self.sentinels += len(batch) - len(ticks)
                batch = ticks
                self.end.set()
            await super().write(batch, account=account)

    gc.collect()
    base = _rss()
    with tempfile.TemporaryDirectory(prefix="fxsocket-bench-") as folder:
        async with _client(_url(port, n=n, k=1)) as fx:
            sink = Sink(folder, account=ACCOUNT)
            sink.end = asyncio.Event()
            async with sink:
                collector = Collector(fx, sink, [(ACCOUNT, ["EURUSD"])])
                running = asyncio.ensure_future(collector.run())
                await sink.end.wait()
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                delivered_at = time.perf_counter()
            sealed_at = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        writer = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        rows = _parquet_rows(Path(folder) / "ticks")
    stats = sink.stats()
    assert sink.first is not None
    seconds = sealed_at - sink.first
    delivered = collector.delivered - sink.sentinels
    return {
        "count": delivered,
        "seconds": seconds,
        "rate": delivered / seconds,
        "deliver_seconds": delivered_at - sink.first,
        "rows": rows,
        "written": sum(c.written for c in stats.counts),
        "delivered": delivered,
        "sent": n,
        "dropped": collector.dropped,
        "overflows": collector.overflows,
        "files": stats.files,
        "rss_mb": peak / 1e6,
        "rss_growth_mb": (peak - base) / 1e6,
        "writer_rss_mb": writer / 1e6,
    }


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    fn = _WORKERS[spec.pop("fn")]
    timeout = float(spec.pop("timeout", 300))

    async def bounded() -> Result:
        return await asyncio.wait_for(fn(**spec), timeout)

    result = asyncio.run(bounded())
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
