"""Run every benchmark suite: ``python -m benchmarks [--quick] [--write] [--profile]``.

Each measurement runs in a fresh process (``benchmarks/workers.py``); the
firehose and the REST simulator run in processes of their own. Contenders of
a suite are run interleaved (A, B, A, B, ...) and every ratio is taken between
runs of the same round, then the median of those ratios is reported next to
the median of each contender.

``--quick`` uses small sizes and one round (well under a minute: CI runs it to
prove the harness works; it asserts nothing about speed). ``--write`` puts the
table, the machine and the versions into ``benchmarks/README.md``;
``--profile`` also samples the library's hot path (py-spy if it can, else
cProfile) and, with ``--write``, records where the time goes.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, ROOT)

from benchmarks import firehose as fh  # noqa: E402

README = os.path.join(ROOT, "benchmarks", "README.md")
RESULTS = ("<!-- results:start -->", "<!-- results:end -->")
PROFILE = ("<!-- profile:start -->", "<!-- profile:end -->")


@dataclass(frozen=True)
class Sizes:
    stream_n: int = 1_000_000
    stream_reps: int = 5
    fan: tuple[tuple[int, int], ...] = ((1, 1_000_000), (10, 200_000), (100, 40_000))
    fan_reps: int = 3
    lat_rate: int = 20_000
    lat_secs: float = 10.0
    lat_reps: int = 3
    lat_warmup: int = 2_000
    slow_n: int = 1_000_000
    slow_k: int = 4
    slow_reps: int = 3
    decode_frames: int = 10_000
    decode_repeat: int = 10
    decode_reps: int = 5
    rest_total: int = 2_000
    rest_in_flight: int = 100
    rest_reps: int = 5
    selfcheck_n: int = 1_000_000
    selfcheck_reps: int = 3
    collect_n: int = 1_000_000
    collect_big: int = 5_000_000
    collect_reps: int = 3
    timeout: float = 240.0


FULL = Sizes()
QUICK = Sizes(
    stream_n=40_000,
    stream_reps=1,
    fan=((1, 40_000), (10, 10_000), (100, 1_000)),
    fan_reps=1,
    lat_secs=1.0,
    lat_reps=1,
    lat_warmup=1_000,
    slow_n=60_000,
    slow_reps=1,
    decode_frames=1_000,
    decode_repeat=2,
    decode_reps=1,
    rest_total=300,
    rest_reps=1,
    selfcheck_n=200_000,
    selfcheck_reps=1,
    collect_n=40_000,
    collect_big=100_000,
    collect_reps=1,
    timeout=60.0,
)


# ------------------------------------------------------------------ results


@dataclass
class Row:
    what: str
    median: str
    ratio: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Suite:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _med(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _ratios(a: list[float | None], b: list[float | None]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=False) if x is not None and y]


def _fmt(value: float | None, unit: str, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} {unit}".strip()


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


# ------------------------------------------------------------------- runner


class Runner:
    """Runs workers in fresh processes; remembers failures."""

    def __init__(self, sizes: Sizes, verbose: bool = True) -> None:
        self.sizes = sizes
        self.verbose = verbose
        self.failures: list[str] = []
        self.raw: dict[str, list[Any]] = collections.defaultdict(list)
        self.env = {
            **os.environ,
            "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }

    def log(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr, flush=True)

    def command(self, spec: dict[str, Any]) -> list[str]:
        return [sys.executable, "-m", "benchmarks.workers", json.dumps(spec)]

    def work(self, key: str, fn: str, **spec: Any) -> dict[str, Any] | None:
        spec = {"fn": fn, "timeout": self.sizes.timeout, **spec}
        try:
            proc = subprocess.run(
                self.command(spec),
                capture_output=True,
                text=True,
                timeout=self.sizes.timeout + 30,
                cwd=ROOT,
                env=self.env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.failures.append(f"{key}: timed out")
            self.log(f"  {key}: TIMED OUT")
            return None
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            self.failures.append(f"{key}: {tail}")
            self.log(f"  {key}: FAILED: {tail}")
            return None
        result: dict[str, Any] = json.loads(lines[-1])
        self.raw[key].append(result)
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
        self.log(f"  {key}: {shown}")
        return result


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@contextlib.contextmanager
def _firehose(sizes: Sizes) -> Iterator[fh.Firehose]:
    biggest = max([sizes.stream_n] + [n for _, n in sizes.fan])
    prepare = [f"ours:1:{biggest}", f"ours:{sizes.slow_k}:{sizes.slow_n}"]
    if _has("fxsocket"):
        prepare.append(f"vendor:1:{sizes.stream_n}")
    server = fh.start_subprocess(prepare, timeout=300)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def _rest_server() -> Iterator[tuple[str, str]]:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.restserver"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        found: dict[str, str] = {}
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while len(found) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            name, _, value = line.strip().partition("=")
            found[name] = value
        if len(found) < 2:
            raise RuntimeError("the REST simulator did not start")
        yield found["BASE_URL"], found["ACCOUNT"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------- suites


def suite_selfcheck(r: Runner, server: fh.Firehose) -> Suite:
    s = r.sizes
    suite = Suite("0. Harness: the firehose is not the bottleneck")
    fmts = ["ours"] + (["vendor"] if _has("fxsocket") else [])
    rates: dict[str, list[float]] = {f: [] for f in fmts}
    for rep in range(s.selfcheck_reps):
        for fmt in fmts:
            result = fh.raw_read(server.port, s.selfcheck_n, fmt)
            rates[fmt].append(result["rate"] / 1e6)
            r.raw[f"selfcheck_{fmt}"].append(result)
            r.log(f"  selfcheck {fmt} round {rep + 1}: {result['rate'] / 1e6:.1f} M frames/s")
    for fmt in fmts:
        best = _med(rates[fmt])
        suite.rows.append(
            Row(
                f"raw socket reader, counts bytes only ({fmt} frames)",
                _fmt(best, "M frames/s", 1),
                "",
                ">= 10 M/s",
                None if best is None else best >= 10,
            )
        )
    return suite


def suites_stream(r: Runner, server: fh.Firehose) -> list[Suite]:
    """Suites 1 and 3 share their rounds: floor, ours, batches, vendor, interleaved."""
    s = r.sizes
    n = s.stream_n
    contenders = ["stream_floor", "stream_ours", "batches_ours"]
    vendor = _has("fxsocket")
    if vendor:
        contenders.append("stream_vendor")
    rates: dict[str, list[float | None]] = {c: [] for c in contenders}
    for rep in range(s.stream_reps):
        r.log(f"suites 1+3, round {rep + 1}/{s.stream_reps}")
        for c in contenders:
            result = r.work(c, c, port=server.port, n=n)
            rates[c].append(None if result is None else result["rate"] / 1e6)
    floor, ours, batches = rates["stream_floor"], rates["stream_ours"], rates["batches_ours"]
    s1 = Suite(f"1. Quote stream, one consumer ({n:,} frames)")
    s1.rows.append(Row("floor: bare aiohttp receive() loop + msgspec", _fmt(_med(floor), "M/s")))
    ratio = _med(_ratios(ours, floor))
    s1.rows.append(
        Row(
            "ours: `async for q in quotes`",
            _fmt(_med(ours), "M/s"),
            f"{_x(ratio)} floor",
            ">= 0.80x floor",
            None if ratio is None else ratio >= 0.8,
        )
    )
    if vendor:
        vratio = _med(_ratios(ours, rates["stream_vendor"]))
        s1.rows.append(Row("vendor SDK: `AsyncStream`", _fmt(_med(rates["stream_vendor"]), "M/s")))
        s1.rows.append(
            Row(
                "ours vs vendor SDK",
                "",
                f"{_x(vratio)} vendor",
                ">= 5x vendor",
                None if vratio is None else vratio >= 5,
            )
        )
    else:
        s1.notes.append("vendor SDK not installed (`pip install -e '.[bench]'`): skipped")
    conflated = [x.get("conflated", 0) for x in r.raw["stream_ours"]]
    s1.notes.append(
        f"ours runs with `mode='all', buffer={1 << 16}` so that it delivers every quote "
        f"like the floor (conflated: {sum(conflated)})"
    )
    s3 = Suite(f"3. Batch consumption ({n:,} frames)")
    bratio = _med(_ratios(batches, floor))
    mean_batch = _med([x["mean_batch"] for x in r.raw["batches_ours"]])
    s3.rows.append(
        Row(
            "ours: `async for batch in quotes.batches()`",
            _fmt(_med(batches), "M/s"),
            f"{_x(bratio)} floor",
            ">= 0.95x floor",
            None if bratio is None else bratio >= 0.95,
        )
    )
    s3.notes.append(
        f"same rounds as suite 1 (same floor); mean batch {_fmt(mean_batch, 'quotes', 0)}"
    )
    return [s1, s3]


def suite_fanout(r: Runner, server: fh.Firehose) -> Suite:
    s = r.sizes
    suite = Suite("2. Fan-out: deliveries/s to N consumers of one symbol")
    for consumers, n in s.fan:
        base: list[float | None] = []
        ours: list[float | None] = []
        for rep in range(s.fan_reps):
            r.log(f"suite 2, {consumers} consumers, round {rep + 1}/{s.fan_reps}")
            for fn, into in (("fanout_queues", base), ("fanout_ours", ours)):
                result = r.work(f"{fn}_{consumers}", fn, port=server.port, n=n, consumers=consumers)
                into.append(None if result is None else result["rate"] / 1e6)
        ratio = _med(_ratios(ours, base))
        suite.rows.append(
            Row(
                f"{consumers} consumer(s), {n:,} frames: one asyncio.Queue each",
                _fmt(_med(base), "M/s"),
            )
        )
        target = consumers >= 10
        suite.rows.append(
            Row(
                f"{consumers} consumer(s): ours",
                _fmt(_med(ours), "M/s"),
                f"{_x(ratio)} queues",
                ">= 2x queues" if target else "(reported)",
                (None if ratio is None else ratio >= 2) if target else None,
            )
        )
    suite.notes.append(
        "every consumer gets every quote (ours: `mode='all'` with a large buffer, "
        "checked: no conflation); the queue baseline's reader is the suite 1 floor"
    )
    return suite


def suite_latency(r: Runner, server: fh.Firehose) -> Suite:
    s = r.sizes
    suite = Suite(
        f"4. Latency, paced {s.lat_rate:,} frames/s for {s.lat_secs:g} s (send stamp to consumer)"
    )
    contenders = ["latency_floor", "latency_ours", "latency_raw"]
    results: dict[str, list[dict[str, Any] | None]] = {c: [] for c in contenders}
    for rep in range(s.lat_reps):
        r.log(f"suite 4, round {rep + 1}/{s.lat_reps}")
        for c in contenders:
            results[c].append(
                r.work(
                    c, c, port=server.port, rate=s.lat_rate, secs=s.lat_secs, warmup=s.lat_warmup
                )
            )

    def pick(c: str, key: str) -> list[float | None]:
        return [None if x is None else x.get(key) for x in results[c]]

    labels = {
        "latency_floor": "floor: bare aiohttp loop",
        "latency_ours": "ours: `async for q in quotes` (defaults)",
        "latency_raw": "machine: blocking raw socket, no asyncio",
    }
    for c in contenders:
        p50, p99, p999 = (_med(pick(c, k)) for k in ("p50_us", "p99_us", "p999_us"))
        text = f"p50 {_fmt(p50, 'us', 1)} / p99 {_fmt(p99, 'us', 0)} / p99.9 {_fmt(p999, 'us', 0)}"
        suite.rows.append(Row(labels[c], text))
    diffs = [
        a - b
        for a, b in zip(
            pick("latency_ours", "p50_us"), pick("latency_floor", "p50_us"), strict=False
        )
        if a is not None and b is not None
    ]
    diff = _med(diffs)
    suite.rows.append(
        Row(
            "ours p50 minus floor p50 (same round)",
            _fmt(diff, "us", 1),
            "",
            "<= 15 us",
            None if diff is None else diff <= 15,
        )
    )
    suite.notes.append(
        f"the first {s.lat_warmup:,} frames of each run are discarded; the stamp is the "
        "sender's CLOCK_MONOTONIC carried in the bid (see firehose.py)"
    )
    return suite


def suite_slow(r: Runner, server: fh.Firehose) -> Suite:
    s = r.sizes
    suite = Suite(
        f"5. Slow consumer: 100 quotes/s beside the firehose ({s.slow_n:,} frames, "
        f"{s.slow_k} symbols)"
    )
    contenders = ["slow_ours", "slow_queue"]
    results: dict[str, list[dict[str, Any] | None]] = {c: [] for c in contenders}
    for rep in range(s.slow_reps):
        r.log(f"suite 5, round {rep + 1}/{s.slow_reps}")
        for c in contenders:
            results[c].append(
                r.work(c, c, port=server.port, n=s.slow_n, k=s.slow_k, per_second=100)
            )
    ours = [x for x in results["slow_ours"] if x is not None]
    queue = [x for x in results["slow_queue"] if x is not None]
    if ours:
        growth = max(x["rss_growth_mb"] for x in ours)
        stale = sum(x["stale"] for x in ours)
        reads = sum(x["reads"] for x in ours)
        worst = max(x["worst_behind"] for x in ours)
        conflated = _med([x["conflated"] for x in ours])
        suite.rows.append(
            Row(
                "ours (defaults: conflate, buffer 1024): peak RSS growth (worst run)",
                _fmt(growth, "MB", 1),
                "",
                "< 20 MB",
                growth < 20,
            )
        )
        where = [at[0] for x in ours for at in x.get("stale_at", [])]
        first_only = bool(where) and all(at == 1 for at in where)
        suite.rows.append(
            Row(
                "ours: reads that were not the newest quote of their symbol",
                f"{stale} of {reads} (worst {worst} behind"
                + ("; each was a run's first read)" if first_only else ")"),
                "",
                "0",
                stale == 0,
            )
        )
        suite.notes.append(f"ours conflated {conflated:,.0f} quotes per run (median)")
    if queue:
        suite.rows.append(
            Row(
                "contrast: floor reader + unbounded asyncio.Queue: RSS growth",
                _fmt(max(x["rss_growth_mb"] for x in queue), "MB", 1),
            )
        )
        suite.rows.append(
            Row(
                "contrast: its stale reads",
                f"{sum(x['stale'] for x in queue)} of {sum(x['reads'] for x in queue)} "
                f"(worst {max(x['worst_behind'] for x in queue):,} behind)",
            )
        )
    suite.notes.append(
        "fresh = the quote read is the newest of its symbol among all quotes the library "
        "had received at that moment (from `quotes.stats()`: delivered + conflated + depth)"
    )
    return suite


def suite_decode(r: Runner) -> Suite:
    s = r.sizes
    suite = Suite("6. Decode: ns per quote frame (one process, interleaved)")
    result = r.work(
        "decode", "decode", frames=s.decode_frames, repeat=s.decode_repeat, reps=s.decode_reps
    )
    if result is None:
        return suite
    ns = {name: _med(values) for name, values in result["ns"].items()}
    ours = ns.get("ours")
    labels = {
        "ours": "ours: `EVENT_DECODER` (tagged union of every event) -> Quote struct",
        "msgspec_quote_only": "msgspec Decoder(QuoteEvent) (the floor's decoder)",
        "json_loads": "`json.loads` -> dict",
        "pydantic_json": "pydantic v2 `model_validate_json` (same shape)",
        "pydantic_loads_validate": "pydantic v2 `model_validate(json.loads(...))`",
        "vendor_sdk": "vendor SDK: `json.loads` + `parse_event` (its own frame)",
    }
    for name, value in ns.items():
        ratio = "" if name == "ours" or not ours or value is None else f"{value / ours:.1f}x ours"
        suite.rows.append(Row(labels.get(name, name), _fmt(value, "ns", 0), ratio))
    if not _has("pydantic"):
        suite.notes.append("pydantic not installed (`pip install -e '.[bench]'`): skipped")
    return suite


def suite_rest(r: Runner) -> Suite:
    s = r.sizes
    suite = Suite(
        f"7. REST: {s.rest_total:,} `quote()` calls, {s.rest_in_flight} in flight, "
        "simulator with rate limiting off"
    )
    contenders = ["rest_ours"] + (["rest_vendor"] if _has("fxsocket") else [])
    rates: dict[str, list[float | None]] = {c: [] for c in contenders}
    with _rest_server() as (base_url, account):
        for rep in range(s.rest_reps):
            r.log(f"suite 7, round {rep + 1}/{s.rest_reps}")
            for c in contenders:
                result = r.work(
                    c,
                    c,
                    base_url=base_url,
                    account=account,
                    total=s.rest_total,
                    in_flight=s.rest_in_flight,
                )
                rates[c].append(None if result is None else result["rate"])
    suite.rows.append(
        Row("ours: `fx.account(id).quote()`", _fmt(_med(rates["rest_ours"]), "req/s", 0))
    )
    if "rest_vendor" in rates:
        ratio = _med(_ratios(rates["rest_ours"], rates["rest_vendor"]))
        suite.rows.append(
            Row(
                "vendor SDK: `AsyncTerminalClient.quote()`",
                _fmt(_med(rates["rest_vendor"]), "req/s", 0),
            )
        )
        suite.rows.append(Row("ours vs vendor SDK", "", f"{_x(ratio)} vendor", "(reported)"))
    suite.notes.append(
        "the server (one aiohttp process) is shared and is most of the cost; "
        "100 calls open the connections before the clock starts"
    )
    return suite


def suite_collect(r: Runner, server: fh.Firehose) -> Suite:
    """Suite 8: ``collect`` to Parquet beside ``batches()`` (suite 3's contender), interleaved."""
    s = r.sizes
    suite = Suite(f"8. Collect: the firehose into `collect` to Parquet ({s.collect_n:,} frames)")
    rates: dict[str, list[float | None]] = {"batches_ours": [], "collect_ours": []}
    for rep in range(s.collect_reps):
        r.log(f"suite 8, round {rep + 1}/{s.collect_reps}")
        for fn, into in rates.items():
            result = r.work(f"collect_{fn}", fn, port=server.port, n=s.collect_n)
            into.append(None if result is None else result["rate"] / 1e6)
    ratio = _med(_ratios(rates["collect_ours"], rates["batches_ours"]))
    suite.rows.append(
        Row(
            "`batches()` (suite 3's contender), same rounds",
            _fmt(_med(rates["batches_ours"]), "M/s"),
        )
    )
    suite.rows.append(
        Row(
            "ours: `collect` (Collector + ParquetSink), until every file is sealed",
            _fmt(_med(rates["collect_ours"]), "M/s"),
            f"{_x(ratio)} batches()",
            ">= 0.80x batches()",
            None if ratio is None else ratio >= 0.8,
        )
    )
    r.log(f"suite 8, {s.collect_big:,} frames")
    big = r.work("collect_big", "collect_ours", port=server.port, n=s.collect_big)
    if big is not None:
        for label, key in (("the collector", "rss_mb"), ("its writer process", "writer_rss_mb")):
            suite.rows.append(
                Row(
                    f"{s.collect_big:,} ticks: peak RSS of {label}",
                    _fmt(big[key], "MB", 1),
                    "",
                    "< 100 MB",
                    big[key] < 100,
                )
            )
        exact = big["rows"] == big["delivered"] == big["written"]
        suite.rows.append(
            Row(
                f"{s.collect_big:,} ticks: rows in the files / delivered",
                f"{big['rows']:,} / {big['delivered']:,} ({big['dropped']:,} dropped)",
                "",
                "equal",
                exact,
            )
        )
        suite.notes.append(
            f"{s.collect_big:,} ticks in {big['seconds']:.1f} s into {big['files']} files "
            f"({big['rate'] / 1e6:.2f} M/s)"
        )
    suite.notes.append(
        "the clock runs from the first batch handed to the sink until the sink is closed "
        "(every file sealed); the writer is a process of its own (RSS: its peak, as reaped)"
    )
    return suite


# ------------------------------------------------------------------ profile


def _pyspy() -> str | None:
    local = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return local if os.path.exists(local) else shutil.which("py-spy")


def _short(frame: str) -> str:
    frame = re.sub(r"\(.*?site-packages/", "(", frame)
    return re.sub(r"\(" + re.escape(ROOT + os.sep), "(", frame)


def _aggregate_pyspy(path: str, top: int) -> list[str]:
    by_function: collections.Counter[str] = collections.Counter()
    by_line: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            if "run_forever" not in stack:
                continue  # imports and setup
            n = int(count)
            leaf = _short(stack.split(";")[-1])
            total += n
            by_line[leaf] += n
            by_function[re.sub(r":\d+\)$", ")", leaf)] += n
    if not total:
        return ["(no samples)"]
    out = ["| self time | function |", "|---:|---|"]
    out += [f"| {100 * n / total:.1f}% | `{name}` |" for name, n in by_function.most_common(top)]
    lib = [(k, v) for k, v in by_line.items() if "fxsocket_async/" in k]
    lib.sort(key=lambda kv: -kv[1])
    if lib:
        out += ["", "| self time | library line |", "|---:|---|"]
        out += [f"| {100 * n / total:.1f}% | `{name}` |" for name, n in lib[:top]]
    out.append("")
    out.append(f"{total:,} samples in the event loop")
    return out


def _aggregate_cprofile(path: str, top: int) -> list[str]:
    import pstats

    stats = pstats.Stats(path)
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])  # type: ignore[attr-defined]
    total = sum(v[2] for _, v in rows) or 1.0
    out = ["| self time | function |", "|---:|---|"]
    for (file, line, name), v in rows[:top]:
        out.append(f"| {100 * v[2] / total:.1f}% | `{name} ({_short('(' + file)[1:]}:{line})` |")
    return out


def profile(r: Runner, server: fh.Firehose, top: int = 12) -> list[str]:
    """Sample suites 1-3 (ours) and the floor; markdown lines."""
    n = r.sizes.stream_n
    targets = [
        ("suite 1 floor: bare aiohttp loop", {"fn": "stream_floor", "port": server.port, "n": n}),
        ("suite 1 ours: `async for`", {"fn": "stream_ours", "port": server.port, "n": n}),
        ("suite 3 ours: `batches()`", {"fn": "batches_ours", "port": server.port, "n": n}),
        (
            "suite 2 ours: 10 consumers",
            {"fn": "fanout_ours", "port": server.port, "n": dict(r.sizes.fan)[10], "consumers": 10},
        ),
    ]
    spy = _pyspy()
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for title, spec in targets:
            out = os.path.join(tmp, "profile.out")
            lines += [f"#### {title}", ""]
            cmd = r.command(spec)
            ok = False
            if spy:
                r.log(f"profiling {title} with py-spy")
                proc = subprocess.run(
                    [spy, "record", "-r", "1000", "-f", "raw", "-o", out, "--", *cmd],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                    env=r.env,
                    timeout=r.sizes.timeout + 60,
                    check=False,
                )
                ok = proc.returncode == 0 and os.path.exists(out)
                if ok:
                    lines += _aggregate_pyspy(out, top)
            if not ok:
                r.log(f"profiling {title} with cProfile")
                cmd = [sys.executable, "-m", "cProfile", "-o", out, *cmd[1:]]
                subprocess.run(
                    cmd,
                    capture_output=True,
                    cwd=ROOT,
                    env=r.env,
                    timeout=r.sizes.timeout + 60,
                    check=False,
                )
                lines += _aggregate_cprofile(out, top) if os.path.exists(out) else ["(failed)"]
            lines.append("")
    tool = "py-spy (1 kHz, samples inside the event loop only)" if spy else "cProfile"
    return [f"Sampled with {tool}, {n:,} frames.", "", *lines]


# ------------------------------------------------------------------- report


def machine() -> list[str]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    packages = ", ".join(
        f"{p} {version(p)}"
        for p in ("aiohttp", "msgspec", "anyio", "fxsocket", "websockets", "httpx", "pydantic")
    )
    commit = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "fxsocket_async"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout
        commit = head + (" + uncommitted changes in fxsocket_async/" if dirty.strip() else "")
    return [
        f"- Date: {now}; library at commit {commit}",
        f"- Machine: {os.cpu_count()} CPUs (nproc), {model}, Linux {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}); {packages}",
    ]


def table(suites: list[Suite]) -> list[str]:
    out = [
        "| suite | measurement | median | ratio (same round) | target | met |",
        "|---|---|---:|---:|---|:---:|",
    ]
    for suite in suites:
        number = suite.title.split(".", 1)[0]
        for row in suite.rows:
            met = {True: "yes", False: "**no**", None: ""}[row.met]
            out.append(
                f"| {number} | {row.what} | {row.median} | {row.ratio} | {row.target} | {met} |"
            )
    return out


def report(suites: list[Suite], sizes: Sizes, quick: bool) -> list[str]:
    lines = ["### Results" + (" (--quick: small sizes, not for comparison)" if quick else ""), ""]
    lines += machine()
    lines.append(
        f"- Rounds: streams {sizes.stream_reps}, fan-out {sizes.fan_reps}, latency "
        f"{sizes.lat_reps}, slow consumer {sizes.slow_reps}, decode {sizes.decode_reps}, "
        f"REST {sizes.rest_reps}, collect {sizes.collect_reps}; "
        "medians, ratios taken within a round"
    )
    lines.append("")
    lines += table(suites)
    lines.append("")
    for suite in suites:
        if suite.notes:
            lines.append(f"- {suite.title}: " + "; ".join(suite.notes))
    return lines


def _replace(text: str, markers: tuple[str, str], body: list[str]) -> str:
    start, end = markers
    block = "\n".join([start, *body, end])
    if start in text and end in text:
        return text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    return text.rstrip() + "\n\n" + block + "\n"


def write(results: list[str], profiled: list[str] | None) -> None:
    text = "# Benchmarks\n"
    if os.path.exists(README):
        with open(README) as f:
            text = f.read()
    text = _replace(text, RESULTS, results)
    if profiled is not None:
        text = _replace(text, PROFILE, profiled)
    with open(README, "w") as f:
        f.write(text)


# --------------------------------------------------------------------- main

SUITES = ("0", "1", "2", "3", "4", "5", "6", "7", "8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (< 1 min)")
    parser.add_argument(
        "--write", action="store_true", help="write results to benchmarks/README.md"
    )
    parser.add_argument("--profile", action="store_true", help="also profile suites 1-3")
    parser.add_argument("--only", default=",".join(SUITES), help="suites to run, e.g. 1,3,6")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    only = set(args.only.split(","))
    runner = Runner(sizes, verbose=not args.quiet)
    started = time.monotonic()
    suites: list[Suite] = []
    profiled: list[str] | None = None
    needs_firehose = only & {"0", "1", "2", "3", "4", "5", "8"} or args.profile
    with _firehose(sizes) if needs_firehose else contextlib.nullcontext() as server:  # type: ignore[attr-defined]
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("0", lambda: suite_selfcheck(runner, server)),
            ("1", lambda: suites_stream(runner, server)),
            ("2", lambda: suite_fanout(runner, server)),
            ("4", lambda: suite_latency(runner, server)),
            ("5", lambda: suite_slow(runner, server)),
            ("8", lambda: suite_collect(runner, server)),
        ]
        for key, step in steps:
            if key in only or (key == "1" and "3" in only):
                done = step()
                suites += done if isinstance(done, list) else [done]
        if args.profile:
            profiled = profile(runner, server)
    if "6" in only:
        suites.append(suite_decode(runner))
    if "7" in only:
        suites.append(suite_rest(runner))
    suites.sort(key=lambda s: s.title)
    lines = report(suites, sizes, args.quick)
    print("\n".join(lines))
    if profiled:
        print("\n".join(["", "### Profile", "", *profiled]))
    if runner.failures:
        print("\nFAILED RUNS:\n" + "\n".join(f"- {f}" for f in runner.failures))
    if args.write:
        write(lines, profiled)
        with open(os.path.join(ROOT, "benchmarks", "results.json"), "w") as f:
            json.dump(runner.raw, f, indent=1)
        print(f"\nwrote {os.path.relpath(README, os.getcwd())}", file=sys.stderr)
    print(f"\n{time.monotonic() - started:.0f} s", file=sys.stderr)
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
