"""What ``collect`` prints: the summary (greppable, stable) and the line a minute."""

from __future__ import annotations

import re

from fxsocket_async.cli._display import Snapshot, log_line, summary
from fxsocket_async.collect import CollectorStats, SinkStats, SymbolCounts

STATS = SinkStats(
    session="20260105T100000Z-abcdef",
    sent=30,
    counts=(SymbolCounts("acc", "EURUSD", 20, 20), SymbolCounts("acc", "GBPUSD", 10, 9)),
    files=3,
    duplicates=1,
    backlog=0,
    gaps=2,
    restart_gaps=1,
)
COLLECTED = CollectorStats(
    delivered=30, reconnects=1, overflows=0, dropped=0, waiting=4, state="live"
)


def test_the_summary_has_a_row_per_symbol_and_the_totals() -> None:
    lines = summary(STATS, COLLECTED, seconds=3.04, out="archive")
    assert lines[0] == "collected for 3.0 s into archive (session 20260105T100000Z-abcdef)"
    rows = [line.split() for line in lines[2:5]]
    assert rows == [
        ["EURUSD", "20", "20", "acc"],
        ["GBPUSD", "10", "9", "acc"],
        ["total", "30", "29"],
    ]
    assert "files: 3" in lines
    assert any(line.startswith("gaps: 2 (reconnects 1") for line in lines)
    assert any("duplicates skipped: 1" in line for line in lines)


def test_the_line_a_minute_says_everything_the_table_does() -> None:
    line = log_line(
        Snapshot(COLLECTED, STATS, 60.0, {("acc", "EURUSD"): 2.0, ("acc", "GBPUSD"): 1.0})
    )
    assert re.match(r"^\d\d:\d\d:\d\d live: 30 ticks \(3/s\), 29 written, 3 files", line)
    assert line.endswith("1 reconnects, 2 gaps, 0 dropped, lag 4 ticks")
