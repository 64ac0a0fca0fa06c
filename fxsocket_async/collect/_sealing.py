"""Sealing: a part in progress becomes a finished file, whole or not at all.

A finished file is written under a temporary name (hidden: ``.<name>.tmp``),
synced, and renamed into place; only then is its spool removed. A crash at
any point leaves either the spool (sealed again by the next start) or the
finished file (and a leftover spool, removed without writing it twice).

The ``Sealer`` thread builds each Parquet file as its part's batches come
(a row group once ``row_group_rows`` are held), so sealing a part at its
rotation only writes the last row group and the footer. pyarrow releases the
GIL for the encoding and zstd, so the intake keeps reading meanwhile. Its
queue is bounded: a sealer behind makes the intake wait, and that reaches
the collector as backpressure instead of memory.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Any, Final

import pyarrow as pa  # type: ignore[import-untyped]

from ._layout import TMP_SUFFIX, Layout, PartName, fsync_dir
from ._parts import Part, read_spool, spool_account
from ._schema import parquet_writer, with_constants

__all__ = ["Sealer", "seal_file"]

#: Batches that may wait for the sealer (each at most a flush's worth of ticks).
QUEUE: Final = 4
_METADATA: Final = {
    "fxsocket_async.archive": "1",
    "broker_time": "the broker's server time, as written (no zone)",
    "receive_time": "when the collector received the tick, UTC",
    "seq": "the tick's number within its session, in arrival order",
}


def _tmp_of(final: Path) -> Path:
    return final.with_name(f".{final.name}{TMP_SUFFIX}")


class _Building:
    """One Parquet file being written from its part's batches."""

    def __init__(self, tmp: Path, name: PartName, account: str, row_group_rows: int) -> None:
        self.tmp = tmp
        self.name = name
        self.account = account
        self.row_group_rows = row_group_rows
        self._held: list[Any] = []
        self._held_rows = 0
        self._writer: Any = None
        self.rows = 0

    def add(self, batch: Any) -> None:
        self._held.append(with_constants(batch, self.name.symbol, self.account, self.name.session))
        self._held_rows += batch.num_rows
        if self._held_rows >= self.row_group_rows:
            self._write()

    def _write(self) -> None:
        if not self._held_rows:
            return
        if self._writer is None:
            self.tmp.parent.mkdir(parents=True, exist_ok=True)
            self._writer = parquet_writer(self.tmp)
            if hasattr(self._writer, "add_key_value_metadata"):
                self._writer.add_key_value_metadata(_METADATA)
        table = pa.Table.from_batches(self._held)
        self._writer.write_table(table, row_group_size=self.row_group_rows)
        self.rows += self._held_rows
        self._held, self._held_rows = [], 0

    def finish(self) -> int:
        """Write what is held, close the file; returns its rows (0: no file was made)."""
        self._write()
        if self._writer is not None:
            self._writer.close()
        return self.rows

    def abandon(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.tmp.unlink(missing_ok=True)


def _place(tmp: Path, final: Path, spool: Path) -> Path:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    spool.unlink(missing_ok=True)
    return final


def seal_file(
    layout: Layout, name: PartName, account: str | None, fmt: str, row_group_rows: int
) -> Path | None:
    """Seal a part from its spool alone (a recovery, or a text format's rotation).

    Returns the finished file, or None when the spool held no tick (it is
    removed). ``account`` None: read from the spool. Safe to run again after a
    crash at any point: a spool whose file exists is a leftover, removed.
    """
    spool, final = layout.spool(name, fmt), layout.sealed(name, fmt)
    if final.exists():
        spool.unlink(missing_ok=True)
        return final
    tmp = _tmp_of(final)
    if fmt == "parquet":
        owner = spool_account(spool) if account is None else account
        building = _Building(tmp, name, owner, row_group_rows)
        try:
            for batch in read_spool(spool):
                building.add(batch)
            rows = building.finish()
        except BaseException:
            building.abandon()
            raise
        if not rows:
            tmp.unlink(missing_ok=True)
            spool.unlink(missing_ok=True)
            return None
        return _place(tmp, final, spool)
    # Text: the spool is the file; cut a torn line, keep it only if a tick is in it.
    header = 1 if fmt == "csv" else 0
    if _cut_torn_line(spool) == 0 or _lines(spool) <= header:
        spool.unlink(missing_ok=True)
        return None
    os.replace(spool, tmp)
    return _place(tmp, final, spool)


def _cut_torn_line(path: Path) -> int:
    """Truncate a text spool after its last newline; returns its length then."""
    with open(path, "rb+") as f:
        data = f.read()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            f.truncate(keep)
    return keep


def _lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


class Sealer(threading.Thread):
    """Builds and seals the parts' files, off the intake: ``batch()``, ``seal()``, ``stop()``."""

    def __init__(self, layout: Layout, fmt: str, row_group_rows: int) -> None:
        super().__init__(name="fxsocket-sealer", daemon=True)
        self._layout, self._fmt, self._rows = layout, fmt, row_group_rows
        self._jobs: queue.Queue[tuple[str, Part, Any] | None] = queue.Queue(QUEUE)
        self._building: dict[int, _Building] = {}
        #: (part, its finished file or None, the error that stopped it or None)
        self.done: queue.Queue[tuple[Part, Path | None, BaseException | None]] = queue.Queue()

    def batch(self, part: Part, batch: Any) -> None:
        """A Parquet part's flushed batch, for its file (waits while the queue is full)."""
        self._jobs.put(("batch", part, batch))

    def seal(self, part: Part) -> None:
        self._jobs.put(("seal", part, None))

    def stop(self) -> None:
        """Finish every job queued, then end (join it after)."""
        self._jobs.put(None)

    def run(self) -> None:
        while (job := self._jobs.get()) is not None:
            kind, part, batch = job
            try:
                if kind == "batch":
                    self._builder(part).add(batch)
                else:
                    self.done.put((part, self._seal(part), None))
            except BaseException as exc:  # the intake reports it and ends the session
                self.done.put((part, None, exc))

    def _builder(self, part: Part) -> _Building:
        building = self._building.get(id(part))
        if building is None:
            tmp = _tmp_of(part.final_path)
            building = _Building(tmp, part.name, part.account, self._rows)
            self._building[id(part)] = building
        return building

    def _seal(self, part: Part) -> Path | None:
        building = self._building.pop(id(part), None)
        if self._fmt != "parquet":
            return seal_file(self._layout, part.name, part.account, self._fmt, self._rows)
        if building is None or not building.finish():
            part.spool_path.unlink(missing_ok=True)
            return None
        return _place(building.tmp, part.final_path, part.spool_path)
