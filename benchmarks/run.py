"""Run every benchmark suite: ``python -m benchmarks [--quick] [--write] [--profile] [--only 1,3]``.

Each measurement runs in a fresh process (``benchmarks/workers/``); the
firehose and the REST simulator run in processes of their own. Contenders of
a suite are run interleaved (A, B, A, B, ...) and every ratio is taken between
runs of the same round, then the median of those ratios is reported next to
the median of each contender.

``--quick`` uses small sizes and one round (well under a minute: CI runs it to
prove the harness works; it asserts nothing about speed). ``--write`` puts the
table, the machine and the versions into ``benchmarks/README.md``;
``--profile`` also samples the library's hot path on each transport (py-spy
if it can, else cProfile) and, with ``--write``, records where the time goes.

Suites are listed in ``SUITES``; one written elsewhere is wired in with one
line there (README.md, "Adding a suite").
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, ROOT)

from benchmarks.harness import FULL, QUICK, Runner, Suite, firehose  # noqa: E402
from benchmarks.report import README, report, write  # noqa: E402

SuiteFn = Callable[[Runner], "Suite | list[Suite]"]


@dataclass(frozen=True)
class Entry:
    """One suite: ``key`` for ``--only``, ``target`` ``"module:function"``
    (imported when the suite runs), whether it needs the firehose (``r.firehose``),
    and the other keys the same function answers for."""

    key: str
    target: str
    firehose: bool = False
    also: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key, *self.also)

    def load(self) -> SuiteFn:
        module, _, name = self.target.partition(":")
        fn: SuiteFn = getattr(importlib.import_module(module), name)
        return fn


#: Every suite, in the order they run (firehose suites first, under one firehose).
SUITES: list[Entry] = [
    Entry("0", "benchmarks.suites_stream:suite_selfcheck", firehose=True),
    Entry("1", "benchmarks.suites_stream:suites_stream", firehose=True, also=("3",)),
    Entry("2", "benchmarks.suites_stream:suite_fanout", firehose=True),
    Entry("4", "benchmarks.suites_other:suite_latency", firehose=True),
    Entry("5", "benchmarks.suites_other:suite_slow", firehose=True),
    Entry("8", "benchmarks.suites_other:suite_collect", firehose=True),
    Entry("6", "benchmarks.suites_other:suite_decode"),
    Entry("7", "benchmarks.suites_other:suite_rest"),
    Entry("9", "benchmarks.bridge:suite_bridge", firehose=True),
]


def _number(suite: Suite) -> tuple[int, str]:
    number = suite.number
    return (int(number), suite.title) if number.isdigit() else (1 << 30, suite.title)


def run_entry(runner: Runner, entry: Entry) -> list[Suite]:
    """Run one suite; a suite that cannot be loaded or crashes is a failure, not an abort."""
    runner.log(f"suite {entry.key}: {entry.target}")
    try:
        done = entry.load()(runner)
    except Exception as exc:  # a broken suite must not hide the others' results
        runner.failures.append(f"suite {entry.key} ({entry.target}): {type(exc).__name__}: {exc}")
        runner.log(f"  suite {entry.key}: FAILED: {exc!r}")
        return []
    return done if isinstance(done, list) else [done]


def main(argv: list[str] | None = None) -> int:
    keys = [k for e in SUITES for k in e.keys]
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (< 1 min)")
    parser.add_argument(
        "--write", action="store_true", help="write results to benchmarks/README.md"
    )
    parser.add_argument("--profile", action="store_true", help="also profile suites 1-3")
    parser.add_argument("--only", default=",".join(keys), help="suites to run, e.g. 1,3,6")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    only = {k.strip() for k in args.only.split(",") if k.strip()}
    unknown = only - set(keys)
    if unknown:
        known = ", ".join(sorted(set(keys), key=lambda k: (len(k), k)))
        parser.error(f"unknown suite(s) {', '.join(sorted(unknown))}; known: {known}")
    sizes = QUICK if args.quick else FULL
    runner = Runner(sizes, verbose=not args.quiet)
    started = time.monotonic()
    chosen = [e for e in SUITES if only & set(e.keys)]
    suites: list[Suite] = []
    profiled: list[str] | None = None
    needs_firehose = any(e.firehose for e in chosen) or args.profile
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(firehose(sizes)) if needs_firehose else None
        stack.enter_context(runner.serving(server))
        for entry in (e for e in chosen if e.firehose):
            suites += run_entry(runner, entry)
        if args.profile:
            from benchmarks.profiling import profile

            profiled = profile(runner)
    for entry in (e for e in chosen if not e.firehose):
        suites += run_entry(runner, entry)
    suites.sort(key=_number)
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
