"""Closing what a crash left open, and the small tables of a finished session.

A session whose journal has no ``end`` and whose lock is free crashed (a
kill -9, a power cut). The next writer on the archive closes it: each spool
is sealed (its complete batches or lines: a torn tail is what the crash
cut), each leftover temporary file is removed, each finished file its
journal does not list yet is read and listed, and an ``end`` record dated at
its last tick written is appended. Then its ``gaps`` and ``sessions``
tables are written, as for any finished session.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from ._journal import End, FileSealed, GapRecord, Journal, Record, SessionStart, read_journal
from ._layout import Layout, PartName, fsync_dir
from ._schema import TICK_SCHEMA
from ._sealing import seal_file
from ._timefmt import datetime_ns

__all__ = ["file_record", "recover_session", "write_tables"]

_TS_UTC: Final = pa.timestamp("ns", tz="UTC")
GAPS_SCHEMA: Final = pa.schema(
    [
        ("account", pa.string()),
        ("symbol", pa.string()),
        ("start", _TS_UTC),
        ("end", _TS_UTC),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("session", pa.string()),
    ]
)
SESSIONS_SCHEMA: Final = pa.schema(
    [
        ("session", pa.string()),
        ("started", _TS_UTC),
        ("ended", _TS_UTC),
        ("how", pa.string()),
        ("format", pa.string()),
        ("resumed", pa.bool_()),
        ("ticks", pa.int64()),
        ("duplicates", pa.int64()),
    ]
)


class _Stats:
    def __init__(self) -> None:
        self.rows = 0
        self.first = self.last = 0
        self.first_seq = self.last_seq = -1
        self.last_tick: tuple[int, float, float] = (0, 0.0, 0.0)

    def add(self, table: pa.Table | pa.RecordBatch) -> None:
        if not table.num_rows:
            return
        received = table.column("receive_time").cast(pa.int64())
        seqs = table.column("seq")
        low, high = pc.min_max(received).values()
        if not self.rows:
            self.first, self.first_seq = low.as_py(), pc.min(seqs).as_py()
        self.first = min(self.first, low.as_py())
        self.last = max(self.last, high.as_py())
        self.last_seq = max(self.last_seq, pc.max(seqs).as_py())
        end = table.num_rows - 1
        broker = table.column("broker_time").cast(pa.int64())[end].as_py()
        self.last_tick = (
            broker,
            table.column("bid")[end].as_py(),
            table.column("ask")[end].as_py(),
        )
        self.rows += table.num_rows


class _JsonRow(msgspec.Struct):
    bid: float
    ask: float
    broker_time: datetime
    receive_time: str
    seq: int


def _json_stats(path: Path, stats: _Stats) -> None:
    decode = msgspec.json.Decoder(_JsonRow).decode
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            row = decode(line)
            received = _parse_iso_ns(row.receive_time)
            if not stats.rows:
                stats.first, stats.first_seq = received, row.seq
            stats.first = min(stats.first, received)
            stats.last = max(stats.last, received)
            stats.last_seq = max(stats.last_seq, row.seq)
            stats.last_tick = (datetime_ns(row.broker_time), row.bid, row.ask)
            stats.rows += 1


def _parse_iso_ns(text: str) -> int:
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole + "+00:00")
    return datetime_ns(seconds) + int(fraction.ljust(9, "0")[:9] or 0)


def file_record(
    layout: Layout, path: Path, name: PartName, fmt: str, *, recovered: bool
) -> FileSealed | None:
    """Read a finished tick file back into its journal record (None if it holds no tick)."""
    stats = _Stats()
    columns = ["bid", "ask", "broker_time", "receive_time", "seq"]
    account = ""
    if fmt == "parquet":
        parquet = pq.ParquetFile(str(path))
        for index in range(parquet.num_row_groups):
            group = parquet.read_row_group(index, columns=[*columns, "account"])
            account = account or str(group.column("account")[0].as_py())
            stats.add(group)
    elif fmt == "csv":
        types = {field.name: field.type for field in TICK_SCHEMA}
        options = pacsv.ConvertOptions(column_types=types)
        with pacsv.open_csv(str(path), convert_options=options) as reader:
            for batch in reader:
                if batch.num_rows:
                    account = account or str(batch.column("account")[0].as_py())
                    stats.add(batch)
    else:
        _json_stats(path, stats)
        account = _first_json_account(path)
    if not stats.rows:
        return None
    return FileSealed(
        path=layout.relative(path),
        account=account,
        symbol=name.symbol,
        rows=stats.rows,
        first=stats.first,
        last=stats.last,
        first_seq=stats.first_seq,
        last_seq=stats.last_seq,
        last_tick=stats.last_tick,
        recovered=recovered,
    )


class _Account(msgspec.Struct):
    account: str


def _first_json_account(path: Path) -> str:
    with open(path, "rb") as f:
        line = f.readline()
    return msgspec.json.decode(line, type=_Account).account if line.strip() else ""


def recover_session(layout: Layout, session: str, fmt: str, row_group_rows: int) -> int:
    """Close a crashed session (see the module docstring); returns the files it recovered."""
    records = read_journal(layout.journal(session))
    listed = {r.path for r in records if isinstance(r, FileSealed)}
    journal = Journal(layout.journal(session))
    recovered = 0
    try:
        for tmp in layout.temporaries_of(session):
            tmp.unlink(missing_ok=True)  # half a seal: its spool is still there
        sealed: list[tuple[Path, PartName, bool]] = []
        for path, name, spool in layout.files_of(session):
            if spool:
                final = seal_file(layout, name, None, fmt, row_group_rows)
                if final is not None:
                    sealed.append((final, name, True))
            elif layout.relative(path) not in listed:
                sealed.append((path, name, False))
        for path, name, from_spool in sealed:
            if layout.relative(path) in listed:
                continue
            record = file_record(layout, path, name, fmt, recovered=from_spool)
            if record is None:
                continue
            journal.append(record)
            records.append(record)
            listed.add(record.path)
            recovered += from_spool
        end = _crash_end(records)
        journal.append(end)
        records.append(end)
        write_tables(layout, session, records)
    finally:
        journal.close()
    return recovered


def _crash_end(records: list[Record]) -> End:
    start = next((r for r in records if isinstance(r, SessionStart)), None)
    files = [r for r in records if isinstance(r, FileSealed)]
    ended = max([f.last for f in files], default=start.started if start else 0)
    counts: dict[tuple[str, str], int] = {}
    for f in files:
        counts[(f.account, f.symbol)] = counts.get((f.account, f.symbol), 0) + f.rows
    return End(
        ended=ended,
        how="crashed",
        counts=[(account, symbol, n, n) for (account, symbol), n in sorted(counts.items())],
    )


def write_tables(layout: Layout, session: str, records: Iterable[Record]) -> None:
    """``gaps/<session>.parquet`` and ``sessions/<session>.parquet``, each sealed by rename."""
    records = list(records)
    gaps = [r for r in records if isinstance(r, GapRecord)]
    start = next((r for r in records if isinstance(r, SessionStart)), None)
    end = next((r for r in records if isinstance(r, End)), None)
    if start is None or end is None:
        return
    columns: dict[str, list[Any]] = {name: [] for name in GAPS_SCHEMA.names}
    for gap in gaps:
        for name in ("account", "symbol", "start", "end", "reason", "detail"):
            columns[name].append(getattr(gap, name))
        columns["session"].append(session)
    _write(layout.gaps_file(session), pa.table(columns, GAPS_SCHEMA))
    ticks = sum(written for _, _, _, written in end.counts)
    row = {
        "session": [session],
        "started": [start.started],
        "ended": [end.ended],
        "how": [end.how],
        "format": [start.format],
        "resumed": [start.resumed],
        "ticks": [ticks],
        "duplicates": [end.duplicates],
    }
    _write(layout.session_file(session), pa.table(row, SESSIONS_SCHEMA))


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, str(tmp), compression="zstd")
    os.replace(tmp, path)
    fsync_dir(path.parent)
