"""``fxsocket-async collect``: every tick of some symbols into an archive, until told to stop.

It stops after ``--duration`` or ``--count``, or on Ctrl-C or SIGTERM; in
every case the files are sealed, the session's end is recorded, a summary
is printed on stdout and the exit status is 0. A run that fails (a refused
key or symbol, an unwritable folder) prints one line and exits 1.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass

import anyio

from .._client import AsyncFxSocket
from .._exceptions import UsageError
from ..collect import Collector, CollectorStats, Sink, SinkStats, sink_for
from ._common import (
    connected_accounts,
    fail,
    needs,
    run,
    single_account,
    stream_policy,
    stream_transports,
)
from ._display import run_display, summary

__all__ = ["CollectOptions", "collect_command"]


@dataclass(frozen=True, slots=True)
class CollectOptions:
    symbols: tuple[str, ...]
    account: str | None
    all_accounts: bool
    out: str
    fmt: str
    rotate: float
    max_file_mb: float | None
    duration: float | None
    count: int | None
    resume: bool
    quiet: bool
    transport: str = "auto"


def collect_command(options: CollectOptions) -> int:
    """Run the command; returns the exit status."""
    if not options.symbols:
        return fail("name the symbols to collect: collect --out DIR EURUSD GBPUSD ...", 2)
    if options.account and options.all_accounts:
        return fail("--account and --all exclude each other", 2)
    needs("pyarrow", "collect")
    live = not options.quiet and sys.stdout.isatty()
    if live:
        needs("rich", "collect's live display (or redirect stdout, or pass --quiet)")
    result: list[tuple[SinkStats, CollectorStats, float]] = []
    transports: list[str] = []

    async def main() -> int:
        async with AsyncFxSocket(stream=stream_policy(options.transport)) as fx:
            targets = await _targets(fx, options)
            sink_class = sink_for(options.fmt)
            sink = sink_class(
                options.out,
                rotate=options.rotate,
                max_file_mb=options.max_file_mb,
                resume=options.resume,
                subscriptions=targets,
            )
            try:
                await sink.__aenter__()
            except FileExistsError as exc:
                return fail(str(exc), 2)
            started = time.monotonic()
            collector = Collector(fx, sink, targets)
            try:
                if not options.quiet:
                    _announce(options, targets, sink.session, sink.stats().recovered)
                await _collect(collector, options, live=live, sink=sink, accounts=len(targets))
            finally:
                # Whatever ended the run, what was written is sealed and summed up.
                try:
                    await sink.aclose()
                finally:
                    seconds = time.monotonic() - started
                    result.append((sink.stats(), collector.stats(), seconds))
                    transports.extend(stream_transports(fx))
        return 0

    code = run(main)
    if result:
        stats, collected, seconds = result[0]
        for line in summary(stats, collected, seconds=seconds, out=options.out):
            print(line)
        if transports:
            print(f"stream: {', '.join(transports)}")
    return code


async def _targets(fx: AsyncFxSocket, options: CollectOptions) -> list[tuple[str, list[str]]]:
    symbols = list(dict.fromkeys(options.symbols))
    if options.all_accounts:
        return [(account, symbols) for account in await connected_accounts(fx)]
    account = await single_account(fx, options.account)
    if not account.strip():
        raise UsageError("--account needs an account id")
    return [(account, symbols)]


def _announce(
    options: CollectOptions, targets: list[tuple[str, list[str]]], session: str, recovered: int
) -> None:
    accounts = ", ".join(account for account, _ in targets)
    stops = [f"for {options.duration:g} s"] if options.duration else []
    stops += [f"until {options.count:,} ticks"] if options.count else []
    print(
        f"collecting {', '.join(options.symbols)} from {accounts} into {options.out} "
        f"({options.fmt}, session {session}"
        + (f", {recovered} files recovered from a crashed session" if recovered else "")
        + f"); {' or '.join([*stops, 'until Ctrl-C'])}",
        file=sys.stderr,
        flush=True,
    )


async def _collect(
    collector: Collector, options: CollectOptions, *, live: bool, sink: Sink, accounts: int
) -> None:
    """Run the collector beside the display, until it ends or a signal stops it."""
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_stop_on_signal, scope)
            tasks.start_soon(
                lambda: run_display(
                    collector,
                    sink,
                    live=live,
                    quiet=options.quiet,
                    accounts=accounts,
                    out=sys.stdout,
                )
            )
            await collector.run(duration=options.duration, count=options.count)
            tasks.cancel_scope.cancel()


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    # A handler, not KeyboardInterrupt: the collection ends where it stands and the
    # files are sealed by the blocks being left, like any other end.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return
