"""The report: machine and versions, the table, and writing it into README.md."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import platform
import subprocess

from benchmarks.harness import ROOT, Sizes, Suite

__all__ = ["machine", "report", "table", "write"]

README = os.path.join(ROOT, "benchmarks", "README.md")
RESULTS = ("<!-- results:start -->", "<!-- results:end -->")
PROFILE = ("<!-- profile:start -->", "<!-- profile:end -->")


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
        for p in (
            "aiohttp",
            "picows",
            "uvloop",
            "msgspec",
            "anyio",
            "fxsocket",
            "websockets",
            "httpx",
            "pydantic",
        )
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
        number = suite.number
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
