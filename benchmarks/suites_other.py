"""Suites 4-8: latency, the slow consumer, decoding, REST and ``collect``."""

from __future__ import annotations

from typing import Any

from benchmarks.harness import Row, Runner, Suite, fmt, has, med, ratios, rest_server, x

__all__ = ["suite_collect", "suite_decode", "suite_latency", "suite_rest", "suite_slow"]


def suite_latency(r: Runner) -> Suite:
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
                    c,
                    c,
                    port=r.firehose.port,
                    rate=s.lat_rate,
                    secs=s.lat_secs,
                    warmup=s.lat_warmup,
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
        p50, p99, p999 = (med(pick(c, k)) for k in ("p50_us", "p99_us", "p999_us"))
        text = f"p50 {fmt(p50, 'us', 1)} / p99 {fmt(p99, 'us', 0)} / p99.9 {fmt(p999, 'us', 0)}"
        suite.rows.append(Row(labels[c], text))
    diffs = [
        a - b
        for a, b in zip(
            pick("latency_ours", "p50_us"), pick("latency_floor", "p50_us"), strict=False
        )
        if a is not None and b is not None
    ]
    diff = med(diffs)
    suite.rows.append(
        Row(
            "ours p50 minus floor p50 (same round)",
            fmt(diff, "us", 1),
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


def suite_slow(r: Runner) -> Suite:
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
                r.work(c, c, port=r.firehose.port, n=s.slow_n, k=s.slow_k, per_second=100)
            )
    ours = [x for x in results["slow_ours"] if x is not None]
    queue = [x for x in results["slow_queue"] if x is not None]
    if ours:
        growth = max(x["rss_growth_mb"] for x in ours)
        stale = sum(x["stale"] for x in ours)
        reads = sum(x["reads"] for x in ours)
        worst = max(x["worst_behind"] for x in ours)
        conflated = med([x["conflated"] for x in ours])
        suite.rows.append(
            Row(
                "ours (defaults: conflate, buffer 1024): peak RSS growth (worst run)",
                fmt(growth, "MB", 1),
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
                fmt(max(x["rss_growth_mb"] for x in queue), "MB", 1),
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
    ns = {name: med(values) for name, values in result["ns"].items()}
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
        suite.rows.append(Row(labels.get(name, name), fmt(value, "ns", 0), ratio))
    if not has("pydantic"):
        suite.notes.append("pydantic not installed (`pip install -e '.[bench]'`): skipped")
    return suite


def suite_rest(r: Runner) -> Suite:
    s = r.sizes
    suite = Suite(
        f"7. REST: {s.rest_total:,} `quote()` calls, {s.rest_in_flight} in flight, "
        "simulator with rate limiting off"
    )
    contenders = ["rest_ours"] + (["rest_vendor"] if has("fxsocket") else [])
    rates: dict[str, list[float | None]] = {c: [] for c in contenders}
    with rest_server() as (base_url, account):
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
        Row("ours: `fx.account(id).quote()`", fmt(med(rates["rest_ours"]), "req/s", 0))
    )
    if "rest_vendor" in rates:
        ratio = med(ratios(rates["rest_ours"], rates["rest_vendor"]))
        suite.rows.append(
            Row(
                "vendor SDK: `AsyncTerminalClient.quote()`",
                fmt(med(rates["rest_vendor"]), "req/s", 0),
            )
        )
        suite.rows.append(Row("ours vs vendor SDK", "", f"{x(ratio)} vendor", "(reported)"))
    suite.notes.append(
        "the server (one aiohttp process) is shared and is most of the cost; "
        "100 calls open the connections before the clock starts"
    )
    return suite


def suite_collect(r: Runner) -> Suite:
    """Suite 8: ``collect`` to Parquet beside ``batches()`` (suite 3's contender), interleaved."""
    s = r.sizes
    suite = Suite(f"8. Collect: the firehose into `collect` to Parquet ({s.collect_n:,} frames)")
    rates: dict[str, list[float | None]] = {"batches_ours": [], "collect_ours": []}
    for rep in range(s.collect_reps):
        r.log(f"suite 8, round {rep + 1}/{s.collect_reps}")
        for fn, into in rates.items():
            result = r.work(f"collect_{fn}", fn, port=r.firehose.port, n=s.collect_n)
            into.append(None if result is None else result["rate"] / 1e6)
    ratio = med(ratios(rates["collect_ours"], rates["batches_ours"]))
    suite.rows.append(
        Row(
            "`batches()` (suite 3's contender), same rounds",
            fmt(med(rates["batches_ours"]), "M/s"),
        )
    )
    suite.rows.append(
        Row(
            "ours: `collect` (Collector + ParquetSink), until every file is sealed",
            fmt(med(rates["collect_ours"]), "M/s"),
            f"{x(ratio)} batches()",
            ">= 0.80x batches()",
            None if ratio is None else ratio >= 0.8,
        )
    )
    r.log(f"suite 8, {s.collect_big:,} frames")
    big = r.work("collect_big", "collect_ours", port=r.firehose.port, n=s.collect_big)
    if big is not None:
        for label, key in (("the collector", "rss_mb"), ("its writer process", "writer_rss_mb")):
            suite.rows.append(
                Row(
                    f"{s.collect_big:,} ticks: peak RSS of {label}",
                    fmt(big[key], "MB", 1),
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
