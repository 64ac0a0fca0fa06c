"""Suites 6, 7 and 8: decoding, REST, and ``collect`` to Parquet."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.firehose import ACCOUNT, quote_payload
from fxsocket_async import AsyncFxSocket, RateLimit
from fxsocket_async._dialects.reference import EVENT_DECODER

from .common import QUOTE_DECODE, Result, client, rss, worker


def _decoders() -> dict[str, tuple[Callable[[bytes], Any], str]]:
    import json as stdlib_json

    decoders: dict[str, tuple[Callable[[bytes], Any], str]] = {
        "ours": (EVENT_DECODER.decode, "ours"),
        "msgspec_quote_only": (QUOTE_DECODE, "ours"),
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
    base = rss()
    with tempfile.TemporaryDirectory(prefix="fxsocket-bench-") as folder:
        async with client(port, n=n, k=1) as fx:
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
