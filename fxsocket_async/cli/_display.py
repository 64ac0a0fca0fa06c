"""What ``collect`` shows while it runs, and the summary it prints at the end.

In a terminal: a live table (rich), refreshed a few times a second. Otherwise
(a pipe, a log file, a service): one line a minute. ``--quiet``: nothing
until the summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

import anyio

from ..collect import Collector, CollectorStats, Sink, SinkStats

__all__ = ["LOG_INTERVAL", "Snapshot", "log_line", "run_display", "summary"]

#: Seconds between the lines logged when stdout is not a terminal.
LOG_INTERVAL: Final = 60.0
_REFRESH: Final = 4


@dataclass
class Snapshot:
    """The numbers shown, with the rates since the previous snapshot."""

    collector: CollectorStats
    sink: SinkStats
    elapsed: float
    rates: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def lag(self) -> int:
        return self.collector.waiting + self.sink.backlog

    @property
    def rate(self) -> float:
        return sum(self.rates.values())


class _Rates:
    def __init__(self) -> None:
        self._previous: dict[tuple[str, str], int] = {}
        self._at = time.monotonic()
        self._started = self._at

    def take(self, collector: Collector, sink: Sink) -> Snapshot:
        now = time.monotonic()
        stats = sink.stats()
        span = max(now - self._at, 1e-9)
        rates = {}
        for c in stats.counts:
            key = (c.account, c.symbol)
            rates[key] = (c.received - self._previous.get(key, 0)) / span
            self._previous[key] = c.received
        self._at = now
        return Snapshot(collector.stats(), stats, now - self._started, rates)


def log_line(snapshot: Snapshot) -> str:
    c, s = snapshot.collector, snapshot.sink
    written = sum(x.written for x in s.counts)
    return (
        f"{time.strftime('%H:%M:%S')} {c.state}: {c.delivered:,} ticks ({snapshot.rate:,.0f}/s), "
        f"{written:,} written, {s.files} files, {c.reconnects} reconnects, {s.gaps} gaps, "
        f"{c.dropped} dropped, lag {snapshot.lag:,} ticks"
    )


def _table(snapshot: Snapshot, accounts: int) -> Any:
    from rich.table import Table

    c, s = snapshot.collector, snapshot.sink
    table = Table(title=f"collecting ({c.state}) for {snapshot.elapsed:,.0f} s", expand=False)
    columns = ["symbol", *(["account"] if accounts > 1 else []), "ticks/s", "delivered", "written"]
    for name in columns:
        table.add_column(name, justify="left" if name in ("symbol", "account") else "right")
    for x in s.counts:
        rate = snapshot.rates.get((x.account, x.symbol), 0.0)
        cells = [x.symbol, *([x.account] if accounts > 1 else [])]
        table.add_row(*cells, f"{rate:,.0f}", f"{x.received:,}", f"{x.written:,}")
    received = sum(x.received for x in s.counts)
    written = sum(x.written for x in s.counts)
    table.add_section()
    cells = ["total", *([""] if accounts > 1 else [])]
    table.add_row(*cells, f"{snapshot.rate:,.0f}", f"{received:,}", f"{written:,}")
    table.caption = (
        f"files {s.files} · reconnects {c.reconnects} · gaps {s.gaps} · "
        f"dropped {c.dropped} · duplicates {s.duplicates} · lag {snapshot.lag:,} ticks"
    )
    return table


async def run_display(
    collector: Collector, sink: Sink, *, live: bool, quiet: bool, accounts: int, out: TextIO
) -> None:
    """Show progress until cancelled."""
    if quiet:
        await anyio.sleep_forever()
    rates = _Rates()
    if not live:
        while True:
            await anyio.sleep(LOG_INTERVAL)
            print(log_line(rates.take(collector, sink)), file=out, flush=True)
    from rich.console import Console
    from rich.live import Live

    console = Console(file=out)
    with Live(console=console, refresh_per_second=_REFRESH, transient=True) as shown:
        while True:
            await anyio.sleep(1 / _REFRESH)
            shown.update(_table(rates.take(collector, sink), accounts))


def summary(stats: SinkStats, collector: CollectorStats, *, seconds: float, out: str) -> list[str]:
    """The end of a run: per symbol delivered and written, files, gaps (stable, greppable)."""
    width = max([len(c.symbol) for c in stats.counts] + [6])
    lines = [
        f"collected for {seconds:.1f} s into {out} (session {stats.session})",
        f"{'symbol':<{width}}  {'delivered':>10}  {'written':>10}  account",
    ]
    for c in stats.counts:
        lines.append(f"{c.symbol:<{width}}  {c.received:>10}  {c.written:>10}  {c.account}")
    received = sum(c.received for c in stats.counts)
    written = sum(c.written for c in stats.counts)
    lines.append(f"{'total':<{width}}  {received:>10}  {written:>10}")
    lines.append(f"files: {stats.files}")
    lines.append(
        f"gaps: {stats.gaps} (reconnects {collector.reconnects}, overflows "
        f"{collector.overflows} dropping {collector.dropped} ticks, restart "
        f"{stats.restart_gaps}); duplicates skipped: {stats.duplicates}"
    )
    if stats.recovered:
        lines.append(f"recovered {stats.recovered} files left by a crashed session")
    return lines
