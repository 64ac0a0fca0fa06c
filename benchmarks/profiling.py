"""``--profile``: sample the hot path of suites 1-3 on each transport (py-spy, else cProfile)."""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from benchmarks.harness import ROOT, Runner, has, transport_ready

__all__ = ["profile"]


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
            if "run_forever" not in stack or "importlib._bootstrap" in stack:
                continue  # setup, and imports done inside the loop (picows, anyio)
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


def targets(r: Runner) -> list[tuple[str, dict[str, Any]]]:
    """What ``--profile`` samples: the floors and ours on each transport, the fan-out."""
    port, n = r.firehose.port, r.sizes.stream_n
    out: list[tuple[str, dict[str, Any]]] = [
        ("suite 1 floor: bare aiohttp loop", {"fn": "stream_floor", "port": port, "n": n}),
        ("suite 1 ours on aiohttp: `async for`", {"fn": "stream_ours", "port": port, "n": n}),
        ("suite 3 ours on aiohttp: `batches()`", {"fn": "batches_ours", "port": port, "n": n}),
        (
            "suite 1 ours, terminal frames (aiohttp)",
            {"fn": "stream_ours", "port": port, "n": n, "dialect": "terminal"},
        ),
    ]
    if has("picows"):
        out.append(
            (
                "suite 1 floor: bare picows callback",
                {"fn": "stream_floor_picows", "port": port, "n": n},
            )
        )
    if transport_ready():
        out += [
            (
                "suite 1 ours on picows: `async for`",
                {"fn": "stream_ours", "port": port, "n": n, "transport": "picows"},
            ),
            (
                "suite 3 ours on picows: `batches()`",
                {"fn": "batches_ours", "port": port, "n": n, "transport": "picows"},
            ),
        ]
    fan = {"fn": "fanout_ours", "port": port, "n": dict(r.sizes.fan)[10], "consumers": 10}
    out.append(("suite 2 ours: 10 consumers", fan))
    return out


def profile(r: Runner, top: int = 12) -> list[str]:
    """Sample suites 1-3 (ours on each transport) and the floors; markdown lines."""
    n = r.sizes.stream_n
    spy = _pyspy()
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for title, spec in targets(r):
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
    tool = (
        "py-spy (1 kHz, samples inside the event loop only, imports left out)"
        if spy
        else "cProfile"
    )
    return [
        f"Sampled with {tool}, {n:,} frames, on asyncio's own loop. picows and aiohttp's "
        "reader are compiled: their time shows as the Python function that called into them "
        "(py-spy without `--native`).",
        "",
        *lines,
    ]
