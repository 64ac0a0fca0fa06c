"""Suites 0-3: the firehose's self-check, one consumer (both dialects, both transports,
asyncio and uvloop), fan-out, and batches.

Suites 1 and 3 share their rounds: every contender below runs once per round,
in this order, and every ratio is taken between runs of the same round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness import (
    Row,
    Runner,
    Suite,
    at_least,
    fmt,
    has,
    med,
    ratios,
    transport_ready,
    x,
)
from benchmarks.selfcheck import raw_read
from benchmarks.workers.common import BIG_BUFFER

__all__ = ["suite_fanout", "suite_selfcheck", "suites_stream"]


def suite_selfcheck(r: Runner) -> Suite:
    s = r.sizes
    suite = Suite("0. Harness: the firehose is not the bottleneck")
    forms = {"ours": "ours frames", "vendor": "vendor SDK / terminal frames"}
    rates: dict[str, list[float | None]] = {f: [] for f in forms}
    for rep in range(s.selfcheck_reps):
        for form in forms:
            result = raw_read(r.firehose.port, s.selfcheck_n, form)
            rates[form].append(result["rate"] / 1e6)
            r.raw[f"selfcheck_{form}"].append(result)
            r.log(f"  selfcheck {form} round {rep + 1}: {result['rate'] / 1e6:.1f} M frames/s")
    for form, label in forms.items():
        best = med(rates[form])
        suite.rows.append(
            Row(
                f"raw socket reader, counts bytes only ({label})",
                fmt(best, "M frames/s", 1),
                "",
                ">= 10 M/s",
                at_least(best, 10),
            )
        )
    return suite


# ------------------------------------------------------------ suites 1 and 3


@dataclass(frozen=True)
class Contender:
    key: str
    fn: str
    params: dict[str, Any] = field(default_factory=dict)


def _variants(loop: str) -> str:
    return "" if loop == "asyncio" else "_uvloop"


def stream_contenders(picows: bool, transport: bool, uvloop: bool, vendor: bool) -> list[Contender]:
    """Suites 1 and 3's contenders, in the order of a round."""
    out = [
        Contender("stream_floor", "stream_floor"),
        Contender("stream_ours", "stream_ours"),
        Contender("batches_ours", "batches_ours"),
        Contender("stream_floor_terminal", "stream_floor", {"dialect": "terminal"}),
        Contender("stream_ours_terminal", "stream_ours", {"dialect": "terminal"}),
        Contender("batches_ours_terminal", "batches_ours", {"dialect": "terminal"}),
    ]
    for loop in ("asyncio", "uvloop") if uvloop else ("asyncio",):
        tail, on = _variants(loop), {"loop": loop}
        if loop == "uvloop":
            out += [
                Contender("stream_floor_uvloop", "stream_floor", on),
                Contender("stream_ours_uvloop", "stream_ours", on),
                Contender("batches_ours_uvloop", "batches_ours", on),
            ]
        if picows:
            out.append(Contender(f"stream_floor_picows{tail}", "stream_floor_picows", on))
        if transport:
            pic = {"transport": "picows", **on}
            out += [
                Contender(f"stream_ours_picows{tail}", "stream_ours", pic),
                Contender(f"batches_ours_picows{tail}", "batches_ours", pic),
            ]
    if vendor:
        out.append(Contender("stream_vendor", "stream_vendor"))
    return out


class _Rates:
    """Each contender's rate per round (M quotes/s; ``None`` where a run failed)."""

    def __init__(self, r: Runner, contenders: list[Contender], n: int) -> None:
        self.by: dict[str, list[float | None]] = {c.key: [] for c in contenders}
        for rep in range(r.sizes.stream_reps):
            r.log(f"suites 1+3, round {rep + 1}/{r.sizes.stream_reps}")
            for c in contenders:
                result = r.work(c.key, c.fn, port=r.firehose.port, n=n, **c.params)
                self.by[c.key].append(None if result is None else result["rate"] / 1e6)

    def has(self, *keys: str) -> bool:
        return all(k in self.by for k in keys)

    def row(self, what: str, key: str) -> Row:
        return Row(what, fmt(med(self.by[key]), "M/s"))

    def ratio(self, key: str, base: str) -> float | None:
        return med(ratios(self.by[key], self.by[base]))

    def versus(
        self, what: str, key: str, base: str, against: str, target: float, shown: bool = True
    ) -> Row:
        """A row with ``key``'s median (if ``shown``), its ratio to ``base`` and the target."""
        value = self.ratio(key, base)
        median = fmt(med(self.by[key]), "M/s") if shown else ""
        return Row(
            what,
            median,
            f"{x(value)} {against}",
            f">= {target:.2f}x {against}",
            at_least(value, target),
        )


def _suite1(rates: _Rates, n: int) -> Suite:
    s1 = Suite(f"1. Quote stream, one consumer ({n:,} frames)")
    rows = s1.rows
    for loop in ("asyncio", "uvloop"):
        tail = _variants(loop)
        on = "" if loop == "asyncio" else " (uvloop)"
        if not rates.has(f"stream_floor{tail}"):
            continue
        floor = f"stream_floor{tail}"
        rows.append(rates.row(f"floor: bare aiohttp receive() loop + msgspec{on}", floor))
        rows.append(
            rates.versus(
                f"ours: `async for q in quotes`{on}", f"stream_ours{tail}", floor, "floor", 0.85
            )
        )
        if loop == "asyncio":
            rows.append(
                rates.row(
                    "terminal frames, floor: bare aiohttp loop + msgspec (TTick)",
                    "stream_floor_terminal",
                )
            )
            rows.append(
                rates.versus(
                    "terminal frames, ours: `AsyncFxSocket(dialect='terminal')`",
                    "stream_ours_terminal",
                    "stream_floor_terminal",
                    "terminal floor",
                    0.85,
                )
            )
        picows = f"stream_floor_picows{tail}"
        if rates.has(picows):
            value = rates.ratio(picows, floor)
            rows.append(
                Row(
                    f"floor: bare picows callback + msgspec{on}",
                    fmt(med(rates.by[picows]), "M/s"),
                    f"{x(value)} aiohttp floor",
                )
            )
        ours = f"stream_ours_picows{tail}"
        if rates.has(ours, picows):
            rows.append(
                rates.versus(
                    f"ours on picows: `async for q in quotes`{on}",
                    ours,
                    picows,
                    "picows floor",
                    0.85,
                )
            )
            rows.append(
                rates.versus(
                    f"ours on picows vs the aiohttp floor{on}",
                    ours,
                    floor,
                    "aiohttp floor",
                    1.15,
                    shown=False,
                )
            )
    if rates.has("stream_vendor"):
        rows.append(rates.row("vendor SDK: `AsyncStream`", "stream_vendor"))
        value = rates.ratio("stream_ours", "stream_vendor")
        rows.append(
            Row("ours vs vendor SDK", "", f"{x(value)} vendor", ">= 5x vendor", at_least(value, 5))
        )
    speedups = [
        f"{label} {x(rates.ratio(key + '_uvloop', key))}"
        for key, label in (
            ("stream_floor", "aiohttp floor"),
            ("stream_ours", "ours"),
            ("stream_floor_picows", "picows floor"),
            ("stream_ours_picows", "ours on picows"),
        )
        if rates.has(key, key + "_uvloop")
    ]
    if speedups:
        rows.append(Row("uvloop over asyncio, same round", "", ", ".join(speedups)))
    return s1


def _suite3(rates: _Rates, n: int) -> Suite:
    s3 = Suite(f"3. Batch consumption ({n:,} frames)")
    rows = s3.rows
    for loop in ("asyncio", "uvloop"):
        tail = _variants(loop)
        on = "" if loop == "asyncio" else " (uvloop)"
        floor = f"stream_floor{tail}"
        if not rates.has(floor):
            continue
        rows.append(
            rates.versus(
                f"ours: `async for batch in quotes.batches()`{on}",
                f"batches_ours{tail}",
                floor,
                "floor",
                0.95,
            )
        )
        if loop == "asyncio":
            rows.append(
                rates.versus(
                    "terminal frames, ours: `batches()`",
                    "batches_ours_terminal",
                    "stream_floor_terminal",
                    "terminal floor",
                    0.95,
                )
            )
        ours, picows = f"batches_ours_picows{tail}", f"stream_floor_picows{tail}"
        if rates.has(ours, picows):
            rows.append(
                rates.versus(f"ours on picows: `batches()`{on}", ours, picows, "picows floor", 0.85)
            )
            rows.append(
                rates.versus(
                    f"ours on picows: `batches()` vs the aiohttp floor{on}",
                    ours,
                    floor,
                    "aiohttp floor",
                    1.15,
                    shown=False,
                )
            )
    return s3


def suites_stream(r: Runner) -> list[Suite]:
    """Suites 1 and 3 share their rounds (and floors), every contender interleaved."""
    n = r.sizes.stream_n
    picows, transport, uvloop = has("picows"), transport_ready(), has("uvloop")
    vendor = has("fxsocket")
    rates = _Rates(r, stream_contenders(picows, transport, uvloop, vendor), n)
    s1, s3 = _suite1(rates, n), _suite3(rates, n)
    for c in stream_contenders(picows, transport, uvloop, vendor):
        wanted = c.params.get("transport")
        ran = {v.get("transport") for v in r.raw.get(c.key, [])} - {None}
        if wanted and ran - {wanted}:  # a setting that silently fell back is no measurement
            r.failures.append(f"{c.key}: asked for {wanted}, the library ran {sorted(ran)}")
    if not vendor:
        s1.notes.append("vendor SDK not installed (`pip install -e '.[bench]'`): skipped")
    if not picows:
        s1.notes.append("picows not installed (`pip install -e '.[fast]'`): its rows are skipped")
    elif not transport:
        s1.notes.append(
            "ours on picows skipped: this library has no `StreamPolicy(transport=...)` yet"
        )
    if not uvloop:
        s1.notes.append("uvloop not installed (`pip install -e '.[fast]'`): its rows are skipped")
    conflated = [
        run.get("conflated", 0)
        for key, runs in r.raw.items()
        if key.startswith("stream_ours")
        for run in runs
    ]
    s1.notes.append(
        f"ours runs with `mode='all', buffer={BIG_BUFFER}` so that it delivers every quote "
        f"like the floors (conflated: {sum(conflated)}); terminal frames: the client reads "
        "the account record from the firehose and streams from the account's own socket; "
        "the picows floor decodes in its frame callback, from picows' buffer"
    )
    batches = [
        run["mean_batch"]
        for key, runs in r.raw.items()
        if key.startswith("batches_ours")
        for run in runs
    ]
    s3.notes.append(
        f"same rounds as suite 1 (same floors); mean batch {fmt(med(batches), 'quotes', 0)}"
    )
    return [s1, s3]


# ------------------------------------------------------------------ suite 2


def suite_fanout(r: Runner) -> Suite:
    s = r.sizes
    suite = Suite("2. Fan-out: deliveries/s to N consumers of one symbol")
    for consumers, n in s.fan:
        base: list[float | None] = []
        ours: list[float | None] = []
        for rep in range(s.fan_reps):
            r.log(f"suite 2, {consumers} consumers, round {rep + 1}/{s.fan_reps}")
            for fn, into in (("fanout_queues", base), ("fanout_ours", ours)):
                result = r.work(
                    f"{fn}_{consumers}", fn, port=r.firehose.port, n=n, consumers=consumers
                )
                into.append(None if result is None else result["rate"] / 1e6)
        ratio = med(ratios(ours, base))
        suite.rows.append(
            Row(
                f"{consumers} consumer(s), {n:,} frames: one asyncio.Queue each",
                fmt(med(base), "M/s"),
            )
        )
        target = consumers >= 10
        suite.rows.append(
            Row(
                f"{consumers} consumer(s): ours",
                fmt(med(ours), "M/s"),
                f"{x(ratio)} queues",
                ">= 2x queues" if target else "(reported)",
                (None if ratio is None else ratio >= 2) if target else None,
            )
        )
    suite.notes.append(
        "every consumer gets every quote (ours: `mode='all'` with a large buffer, "
        "checked: no conflation); the queue baseline's reader is the suite 1 floor"
    )
    return suite
