"""The files of the ticks table, in the writer process: one ``Part`` per symbol, date and run.

A part collects ticks in memory for a moment, then appends them to its
spool, a hidden file beside where the part will live (``flush``), which is
what a crash leaves and a recovery reads:

- Parquet: the spool is an Arrow IPC stream, one record batch per flush,
  readable up to a torn tail after a kill -9. Each batch also goes to the
  sealing thread, which builds the Parquet file as the ticks come
  (``_sealing``), so closing a part only finishes it.
- CSV and JSON lines: the spool is the file itself, renamed once sealed; a
  torn last line is cut.

Per tick, the work is what the columns need and no more: the receive times
and the seq numbers are kept as runs (one per batch received), the columns
are built by pyarrow once per flush.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]

from ._layout import Layout, PartName
from ._protocol import Tick, tick_time
from ._schema import SPOOL_SCHEMA, TICK_SCHEMA, broker_times, received_column, seq_column
from ._timefmt import datetime_ns, iso_ns

__all__ = ["Part", "next_midnight", "read_spool", "spool_account"]


class _JsonRow(msgspec.Struct, gc=False):
    symbol: str
    bid: float
    ask: float
    broker_time: datetime
    receive_time: str
    account: str
    session: str
    seq: int


_json_lines = msgspec.json.Encoder().encode_lines


class Part:
    """One file of the ticks table, being written (one symbol, one broker date, one account)."""

    def __init__(
        self, layout: Layout, name: PartName, account: str, fmt: str, opened: int, day_end: datetime
    ) -> None:
        self.layout = layout
        self.name = name
        self.account = account
        self.fmt = fmt
        self.opened = opened
        #: The broker's next midnight: a tick at or past it belongs to the next day's part.
        self.day_end = day_end
        #: When the writer seals it (receive time, ns; 0: never, by time).
        self.rotate_at = 0
        self.spool_path = layout.spool(name, fmt)
        self.final_path = layout.sealed(name, fmt)
        self.pending = 0
        self._quotes: list[Tick] = []
        self._received: list[tuple[int, int]] = []
        self._seqs: list[tuple[int, int] | list[int]] = []
        self._out: Any = None
        self._file: Any = None
        self.rows = 0  # in the spool
        self.first = self.last = 0
        self.first_seq = self.last_seq = -1
        self.last_tick: tuple[int, float, float] = (0, 0.0, 0.0)
        self.bytes = 0

    def add(self, quotes: list[Tick], received: int, seqs: tuple[int, int] | list[int]) -> None:
        """Hold ``quotes`` (received together); ``seqs``: ``(first, count)`` or each number."""
        self._quotes += quotes
        self._received.append((received, len(quotes)))
        runs = self._seqs
        if isinstance(seqs, tuple) and runs and isinstance(runs[-1], tuple):
            first, count = runs[-1]
            if first + count == seqs[0]:  # one symbol's batches in a row: one run
                runs[-1] = (first, count + seqs[1])
                self.pending += len(quotes)
                return
        runs.append(seqs)
        self.pending += len(quotes)

    def flush(self) -> Any:
        """Append what is held to the spool; returns the spool batch (None if nothing was)."""
        quotes = self._quotes
        if not quotes:
            return None
        count = len(quotes)
        bids = pa.array([q.bid for q in quotes], pa.float64())
        asks = pa.array([q.ask for q in quotes], pa.float64())
        times = broker_times([q.time for q in quotes])
        received = received_column(self._received)
        seqs = seq_column(self._seqs)
        if not self.rows:
            self.first, self.first_seq = self._received[0][0], _first(self._seqs[0])
        self.last, self.last_seq = self._received[-1][0], _last(self._seqs[-1])
        last = quotes[-1]
        self.last_tick = (datetime_ns(tick_time(last)), last.bid, last.ask)
        batch = pa.record_batch([bids, asks, times, received, seqs], SPOOL_SCHEMA)
        if self.fmt == "parquet":
            self._write_spool(batch)
        elif self.fmt == "csv":
            self._write_csv(batch)
        else:
            self._write_jsonl(quotes, received, seqs)
        self.rows += count
        self.pending = 0
        self._quotes, self._received, self._seqs = [], [], []
        return batch

    def _open_file(self) -> Any:
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: each flush is in the OS once written, so a kill -9 keeps it.
        self._file = pa.OSFile(str(self.spool_path), "wb")
        return self._file

    def _write_spool(self, batch: Any) -> None:
        if self._out is None:
            # The account rides in the schema: a recovery after a crash reads it there.
            schema = SPOOL_SCHEMA.with_metadata({"account": self.account})
            self._out = pa.ipc.new_stream(self._open_file(), schema)
        self._out.write_batch(batch)
        self.bytes = self._file.tell()

    def _write_csv(self, batch: Any) -> None:
        import pyarrow.csv as pacsv  # type: ignore[import-untyped]

        if self._out is None:
            self._out = pacsv.CSVWriter(self._open_file(), TICK_SCHEMA)
        count = batch.num_rows
        columns = [
            pa.repeat(self.name.symbol, count),
            *batch.columns[:4],
            pa.repeat(self.account, count),
            pa.repeat(self.name.session, count),
            batch.column(4),
        ]
        self._out.write_batch(pa.record_batch(columns, TICK_SCHEMA))
        self.bytes = self._file.tell()

    def _write_jsonl(self, quotes: list[Tick], received: Any, seqs: Any) -> None:
        if self._out is None:
            self.spool_path.parent.mkdir(parents=True, exist_ok=True)
            self._out = os.open(self.spool_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        account, session, symbol = self.account, self.name.session, self.name.symbol
        stamps: dict[int, str] = {}
        rows = []
        for quote, at, seq in zip(
            quotes, received.cast(pa.int64()).to_pylist(), seqs.to_pylist(), strict=True
        ):
            stamp = stamps.get(at)
            if stamp is None:
                stamp = stamps[at] = iso_ns(at)
            when = tick_time(quote)
            rows.append(_JsonRow(symbol, quote.bid, quote.ask, when, stamp, account, session, seq))
        data = _json_lines(rows)
        os.write(self._out, data)
        self.bytes += len(data)

    def finish(self) -> bool:
        """Close the spool before sealing (``flush`` first); False when nothing was written."""
        out, self._out = self._out, None
        if out is None:
            return False
        if isinstance(out, int):
            os.close(out)
        else:
            out.close()
            self._file.close()
        return True


def _first(run: tuple[int, int] | list[int]) -> int:
    return run[0]


def _last(run: tuple[int, int] | list[int]) -> int:
    return run[0] + run[1] - 1 if isinstance(run, tuple) else run[-1]


def spool_account(path: Path) -> str:
    """The account a Parquet part's spool was written for (from its schema)."""
    try:
        with pa.OSFile(str(path), "rb") as source:
            metadata = pa.ipc.open_stream(source).schema.metadata or {}
    except (pa.ArrowException, OSError):
        return ""
    return str(metadata.get(b"account", b"").decode())


def read_spool(path: Path) -> Iterator[Any]:
    """The record batches of an Arrow IPC spool, up to a torn tail (a crash mid-write)."""
    try:
        source = pa.OSFile(str(path), "rb")
    except OSError:
        return
    with source:
        try:
            reader = pa.ipc.open_stream(source)
        except (pa.ArrowException, OSError):
            return  # torn before its schema: nothing was written
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowException, OSError):
                return
            yield batch.replace_schema_metadata(None)


def next_midnight(time: datetime) -> datetime:
    """The broker's midnight after ``time``, in ``time``'s own zone label."""
    day = time.replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)
