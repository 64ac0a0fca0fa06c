"""Suite 9, the bridge: quotes from the firehose, through a bridge and NATS, to remote consumers.

End to end, every part in a process of its own: the firehose (upstream, the
reference dialect's stream), a ``nats-server -js``, one bridge (a ``Bridge``
on an ``AsyncFxSocket`` reading the firehose, batches of ``max_batch``
quotes per NATS message) and 1 or 10 consumers (``RemoteFxSocket.quotes(...,
mode="all")`` read with ``batches()``), each counting every quote until the
firehose's end sentinel. A consumer's clock starts at its first batch and
stops at the sentinel; the suite reports quotes/s per consumer, their total
(deliveries/s), the quotes lost on the way (``Fx-Seq`` jumps and the
bridge's drops) and the peak RSS of the bridge and of the largest consumer.

    python -m benchmarks.bridge            # 1 and 10 consumers, 1,000,000 / 300,000 quotes
    python -m benchmarks.bridge --quick    # small sizes, < 20 s

The harness calls ``suite_bridge(runner)`` (see benchmarks/README.md, "Adding a
suite"); one measurement is ``bridge_worker(port=, n=, consumers=)``, which
starts nats-server, the consumers and the bridge itself and stops them all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import signal
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 0.5  # M quotes/s end to end on 2 cores (issue 12)
#: One wait of the benchmark's own (process start, READY lines, the run itself).
WAIT = 120.0


# ------------------------------------------------------------------ child processes


def _say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def _peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def _consumer(nats_url: str, k: int) -> None:
    from benchmarks.frames import ACCOUNT, SYMBOLS
    from fxsocket_async.bridge import RemoteFxSocket

    async with (
        RemoteFxSocket(nats=nats_url) as fx,
        fx.quotes(*SYMBOLS[:k], account=ACCOUNT, mode="all", buffer=1 << 22, latest=False) as q,
    ):
        _say(kind="ready")
        count = received = 0
        t0 = t1 = 0.0
        sentinels = 0
        async for batch in q.batches():
            received += len(batch)
            if not t0:
                t0 = time.perf_counter()
                count -= len(batch)  # the first batch starts the clock and is not counted
            count += len(batch)
            if batch[-1].bid < 0:
                ends = sum(1 for quote in batch if quote.bid < 0)
                sentinels += ends
                count -= ends
                received -= ends
                if sentinels >= k:
                    t1 = time.perf_counter()
                    break
        stats = q.stats()
    _say(
        kind="result",
        count=count,
        received=received,
        seconds=t1 - t0,
        rate=count / (t1 - t0) if t1 > t0 else 0.0,
        missed_batches=stats.missed_batches,
        batches=stats.batches,
        rss=_peak_rss(),
    )


async def _bridge(nats_url: str, port: int, n: int, k: int, max_batch: int, transport: str) -> None:
    from benchmarks.frames import ACCOUNT, SYMBOLS
    from fxsocket_async import AsyncFxSocket, StreamPolicy, always_open
    from fxsocket_async.bridge import Bridge

    # The firehose serves quotes only: the events pump's REST reads fail and retry
    # quietly in the background; quotes do not wait on them.
    logging.basicConfig(level=logging.CRITICAL)
    ws_url = f"ws://127.0.0.1:{port}/v1/stream?n={n}&k={k}"
    chosen: Any = transport
    policy = StreamPolicy(market_open=always_open, quote_silence=None, transport=chosen)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with (
        AsyncFxSocket(
            "x", base_url=f"http://127.0.0.1:{port}", ws_url=ws_url, stream=policy,
            dialect="reference",
        ) as fx,
        Bridge(
            fx, nats=nats_url, accounts=[ACCOUNT], symbols=SYMBOLS[:k], rpc=False,
            max_batch=max_batch,
        ) as bridge,
    ):  # fmt: skip
        _say(kind="ready")
        await stop.wait()
        metrics = bridge.metrics
        dropped = _sample(metrics.quotes_dropped, ACCOUNT)
        errors = sum(_sample(metrics.publish_errors, kind) for kind in ("quotes", "latest"))
    _say(kind="result", rss=_peak_rss(), dropped=dropped, publish_errors=errors)


def _sample(counter: Any, label: str) -> float:
    try:
        return float(counter.labels(label)._value.get())
    except Exception:  # a metric this bridge does not have
        return 0.0


# ------------------------------------------------------------------ one measurement


class _Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self, kind: str, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            for _ in range(100_000):
                raw = await self.process.stdout.readline()
                if not raw:
                    break
                if raw.startswith(b"{"):
                    message: dict[str, Any] = json.loads(raw)
                    if message.get("kind") == kind:
                        return message
        raise RuntimeError(f"a benchmark process ended without its {kind!r} line")

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()


async def _spawn(*args: str) -> _Child:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.bridge", *args, cwd=ROOT, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    return _Child(process)


async def bridge_worker(
    port: int,
    n: int,
    consumers: int = 1,
    k: int = 1,
    max_batch: int = 100,
    transport: str = "aiohttp",
    **_: Any,
) -> dict[str, Any]:
    """Quotes through the bridge to ``consumers`` consumer processes; the result dict."""
    from fxsocket_async.bridge import nats_server

    children: list[_Child] = []
    async with nats_server() as url:
        try:
            readers = [await _spawn("consumer", url, str(k)) for _ in range(consumers)]
            children += readers
            for reader in readers:
                await reader.line("ready", WAIT)
            sizes = (str(port), str(n), str(k), str(max_batch))
            bridge = await _spawn("bridge", url, *sizes, transport)
            children.append(bridge)
            await bridge.line("ready", WAIT)
            results = [await reader.line("result", WAIT) for reader in readers]
            bridge.process.send_signal(signal.SIGTERM)
            bridge_result = await bridge.line("result", WAIT)
        finally:
            for child in children:
                await child.stop()
    rates = [r["rate"] for r in results]
    total = sum(r["count"] for r in results)
    seconds = max(r["seconds"] for r in results)
    return {
        "rate": min(rates),  # the slowest consumer's: what every consumer got at least
        "per_consumer": rates,
        "total_rate": total / seconds if seconds > 0 else 0.0,
        "count": total,
        "lost": consumers * n - sum(r["received"] for r in results),
        "missed_batches": sum(r["missed_batches"] for r in results),
        "bridge_dropped": bridge_result["dropped"],
        "publish_errors": bridge_result["publish_errors"],
        "bridge_rss": bridge_result["rss"],
        "consumer_rss": max(r["rss"] for r in results),
    }


# ------------------------------------------------------------------ the suite


def _fast() -> str:
    """The bridge's upstream transport for the big runs: picows when the fast extra is in."""
    import importlib.util

    return "picows" if importlib.util.find_spec("picows") is not None else "aiohttp"


def _measurements(quick: bool) -> list[tuple[str, int, int, str]]:
    """(label, consumers, quotes, the bridge's upstream transport) per measurement."""
    n1, n10 = (200_000, 50_000) if quick else (1_000_000, 300_000)
    runs = [("1 consumer, aiohttp upstream", 1, n1, "aiohttp")]
    fast = _fast()
    if fast != "aiohttp":
        runs.append((f"1 consumer, {fast} upstream", 1, n1, fast))
    runs.append((f"10 consumers, {fast} upstream", 10, n10, fast))
    return runs


def _median(values: list[float]) -> float | None:
    return sorted(values)[len(values) // 2] if values else None


def _rows(
    results: dict[str, list[dict[str, Any]]], upstream: dict[str, list[float]] | None = None
) -> list[tuple[str, str, str, bool | None]]:
    """One row per measurement; ``upstream``: ``batches()`` alone per transport (M/s)."""
    rows: list[tuple[str, str, str, bool | None]] = []
    upstream = upstream or {}
    for label, runs in results.items():
        ok = [r for r in runs if r]
        if not ok:
            rows.append((label, "failed", "", False))
            continue
        best = sorted(ok, key=lambda r: r["rate"])[len(ok) // 2]
        per = best["rate"] / 1e6
        text = (
            f"{per:.2f} M/s each, {best['total_rate'] / 1e6:.2f} M/s total; lost "
            f"{best['lost']:,}; peak RSS bridge {best['bridge_rss'] / 2**20:.0f} MB, "
            f"consumer {best['consumer_rss'] / 2**20:.0f} MB"
        )
        one = label.startswith("1 consumer")
        alone = _median(upstream.get(label.rsplit(", ", 1)[-1].split()[0], []))
        if alone and one:
            text += f"; {per / alone:.2f}x the upstream read alone ({alone:.2f} M/s)"
        target, met = (">= 0.5 M/s", per >= TARGET) if one else ("", None)
        rows.append((f"{label}: quotes/s end to end", text, target, met))
    for transport, rates in upstream.items():
        alone = _median(rates)
        if alone:
            what = f"upstream read alone, {transport}: ours batches(), no bridge, same round"
            rows.append((what, f"{alone:.2f} M/s", "", None))
    return rows


def suite_bridge(r: Any) -> Any:
    """The harness's entry: ``Entry("9", "benchmarks.bridge:suite_bridge", firehose=True)``."""
    from benchmarks.harness import Row, Suite

    suite = Suite("9. Bridge: quotes through NATS JetStream to remote consumers")
    results: dict[str, list[dict[str, Any]]] = {}
    upstream: dict[str, list[float]] = {}
    for rep in range(1 if r.quick else 3):
        for label, consumers, n, transport in _measurements(r.quick):
            r.log(f"suite 9, {label}, round {rep + 1}")
            key = f"bridge_{consumers}_{transport}"
            result = r.work(
                key, "benchmarks.bridge:bridge_worker", port=r.firehose.port, n=n,
                consumers=consumers, transport=transport,
            )  # fmt: skip
            results.setdefault(label, []).append(result or {})
            if consumers == 1:
                # What the bridge's own upstream read reaches with nothing after it,
                # side by side: the ceiling of the bridge on this machine, this round.
                alone = r.work(
                    f"bridge_upstream_{transport}", "batches_ours", port=r.firehose.port,
                    n=n, transport=transport,
                )  # fmt: skip
                if alone:
                    upstream.setdefault(transport, []).append(alone["rate"] / 1e6)
    for what, text, target, met in _rows(results, upstream):
        suite.rows.append(Row(what, text, "", target, met))
    suite.notes.append(
        "9. Firehose -> bridge (AsyncFxSocket + Bridge, 100 quotes per NATS message) -> "
        "nats-server -> RemoteFxSocket consumers, each in its own process, mode='all' "
        "read with batches(); 'each' is the slowest consumer's rate"
    )
    return suite


def run(quick: bool) -> dict[str, Any]:
    """Standalone: start the firehose, measure each size once, return the results."""
    sys.path.insert(0, ROOT)
    from benchmarks import firehose as fh

    runs = _measurements(quick)
    biggest = max(n for _, _, n, _ in runs)
    server = fh.start_subprocess([f"ours:1:{biggest}"], timeout=300)
    try:
        out: dict[str, Any] = {}
        for label, consumers, n, transport in runs:
            out[label] = asyncio.run(
                bridge_worker(port=server.port, n=n, consumers=consumers, transport=transport)
            )
        return out
    finally:
        server.close()


def main(argv: list[str]) -> int:
    if argv and argv[0] == "consumer":
        asyncio.run(_consumer(argv[1], int(argv[2])))
        return 0
    if argv and argv[0] == "bridge":
        url, port, n, k, batch = argv[1], *map(int, argv[2:6])
        asyncio.run(_bridge(url, port, n, k, batch, argv[6]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bridge", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (< 20 s)")
    args = parser.parse_args(argv)
    results = run(args.quick)
    for key, result in results.items():
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
        print(f"{key}: {json.dumps(shown)}")
    for what, text, target, met in _rows({key: [result] for key, result in results.items()}):
        verdict = "" if met is None else (": met" if met else ": not met")
        print(f"{what}: {text}" + (f" (target {target}{verdict})" if target else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
