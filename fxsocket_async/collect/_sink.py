"""Sinks: what user code feeds, on the event loop; the disk work is in a writer process.

``await sink.write(batch)`` encodes the batch with one msgpack call and hands
it to the writer process's pipe: nothing on the event loop waits on a disk.
Memory is bounded: the pipe and its write buffer hold at most ``BUFFER``
bytes; past that, ``write`` waits for the writer (backpressure reaches the
stream consumer, whose own bounded buffer then decides what happens).
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Final, Self

import anyio
import msgspec

from .._core.models import Quote
from ._journal import GapRecord, Listening
from ._layout import FORMATS, Layout, new_session_id
from ._process import BUFFER, SinkError, WriterProcess
from ._protocol import ACCOUNT, FRAME, GAP, LISTEN, MARK, TICKS, TICKS_HEAD, Open
from ._timefmt import datetime_ns

__all__ = [
    "BUFFER",
    "COLLECT_EXTRA",
    "CsvSink",
    "JsonlSink",
    "ParquetSink",
    "Sink",
    "SinkError",
    "SinkStats",
    "SymbolCounts",
    "require_extra",
]

COLLECT_EXTRA: Final = "pip install 'fxsocket-async[collect]'"
#: Ticks per row group of a Parquet file: about DuckDB's own (122,880 rows), large enough
#: for fast scans, small enough to hold while it is written (~5 MB before compression).
ROW_GROUP_ROWS: Final = 131_072


def require_extra(module: str, what: str) -> None:
    """Raise ``ModuleNotFoundError`` naming the extra to install when ``module`` is missing."""
    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(f"{what} needs {module}: {COLLECT_EXTRA}", name=module)


@dataclass(frozen=True, slots=True)
class SymbolCounts:
    """Ticks of one symbol (of one account): received by the sink, and on disk."""

    account: str
    symbol: str
    received: int
    written: int


@dataclass(frozen=True, slots=True)
class SinkStats:
    """What a sink has done so far (as its writer last reported, a few times a second)."""

    session: str
    #: Ticks handed to the writer.
    sent: int
    counts: tuple[SymbolCounts, ...]
    #: Finished (sealed) files.
    files: int
    #: Repeats of the last tick skipped after a reconnect or resume.
    duplicates: int
    #: Ticks sent and not on disk yet.
    backlog: int
    gaps: int
    #: At the start: files recovered from crashed sessions, restart gaps recorded.
    recovered: int = 0
    restart_gaps: int = 0


class Sink:
    """An archive being written: ``async with ParquetSink(dir) as sink: await sink.write(batch)``.

    ``rotate`` (seconds, aligned to the clock) and ``max_file_mb`` (data
    before compression) seal the file in progress and start the next one;
    a broker midnight does too. ``resume=True`` continues an archive that is
    there already, recording the time since its last tick as a ``restart``
    gap; without it, an existing archive is refused.
    """

    format: ClassVar[str] = "parquet"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        account: str = "",
        rotate: float | None = 3600.0,
        max_file_mb: float | None = None,
        resume: bool = False,
        subscriptions: Sequence[tuple[str, Sequence[str]]] = (),
        row_group_rows: int = ROW_GROUP_ROWS,
        report_interval: float = 0.25,
    ) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        self.directory = Path(directory)
        self.account = account
        self.session = new_session_id()
        self._open = Open(
            root=str(self.directory.resolve()),
            format=self.format,
            session=self.session,
            started=0,
            rotate_ns=int(rotate * 1e9) if rotate else 0,
            max_bytes=int(max_file_mb * 1024 * 1024) if max_file_mb else None,
            resume=resume,
            row_group_rows=row_group_rows,
            report_interval=report_interval,
            subscriptions=[(a, list(symbols)) for a, symbols in subscriptions],
        )
        self._encode = msgspec.msgpack.Encoder().encode
        self._frame = bytearray()
        self._accounts: dict[str, int] = {}
        self._writer = WriterProcess()
        self._sent = 0
        self._gaps = 0
        self._state = "new"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.directory)!r}, session={self.session!r})"

    # ------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        """Start the writer (recovering what crashed sessions left) and wait until it is ready.

        Raises ``ModuleNotFoundError`` naming the extra when pyarrow is missing,
        ``FileExistsError`` for an existing archive without ``resume=True``, and
        ``SinkError`` when the writer cannot start.
        """
        require_extra("pyarrow", f"{type(self).__name__}")
        if not self._open.resume and Layout(self.directory).exists():
            raise FileExistsError(
                f"{self.directory} holds an archive already: resume it (resume=True, "
                "or --resume) or choose another directory"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open.started = time.time_ns()
        self._state = "open"
        try:
            await self._writer.start(self._open, self._encode)
        except BaseException:
            self._state = "closed"
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> SinkStats:
        """Seal every file, end the session, and return the final counts.

        Shielded from cancellation (a Ctrl-C must not cut the last files), and
        bounded by ``CLOSE_TIMEOUT``. Raises ``SinkError`` when the writer failed.
        """
        if self._state != "open":
            return self.stats()
        self._state = "closed"
        with anyio.CancelScope(shield=True):
            await self._writer.close(time.time_ns(), self._encode)
        if self._writer.error is not None:
            raise self._writer.error
        return self.stats()

    # --------------------------------------------------------------- writing

    async def write(self, batch: Sequence[Quote], *, account: str | None = None) -> None:
        """Hand ``batch`` to the writer, stamped with the time now (its receive time).

        Waits only when ``BUFFER`` bytes wait for the writer already. Raises
        ``SinkError`` when the writer failed, or outside the block.
        """
        if not batch:
            return
        index = self._index(self.account if account is None else account)
        frame = self._frame
        del frame[:]
        frame += FRAME.pack(0, TICKS)
        frame += TICKS_HEAD.pack(index, time.time_ns())
        frame += self._encode(batch)
        FRAME.pack_into(frame, 0, len(frame) - FRAME.size, TICKS)
        self._write(frame)
        self._sent += len(batch)
        await self._drain()

    async def gap(
        self,
        start: datetime | int,
        end: datetime | int,
        reason: str,
        *,
        symbols: Sequence[str],
        account: str | None = None,
        detail: str = "",
    ) -> None:
        """Record that ``symbols`` were not collected from ``start`` to ``end`` (and why).

        Times are aware ``datetime``s or UTC nanoseconds. Raises ``SinkError``.
        """
        owner = self.account if account is None else account
        for symbol in symbols:
            record = GapRecord(
                account=owner,
                symbol=symbol,
                start=_ns(start),
                end=_ns(end),
                reason=reason,
                detail=detail,
            )
            self._send(GAP, self._encode(record))
            self._gaps += 1
        await self._drain()

    async def listening(self, symbols: Sequence[str], *, account: str | None = None) -> None:
        """Say every tick of ``symbols`` is being received from now on (a subscription is in):
        coverage counts from here, and a pending restart gap ends here. Raises ``SinkError``."""
        owner = self.account if account is None else account
        record = Listening(account=owner, symbols=list(symbols), at=time.time_ns())
        self._send(LISTEN, self._encode(record))
        await self._drain()

    async def resumed(self, account: str | None = None) -> None:
        """Say the stream of ``account`` starts again (a reconnect, a new subscription):
        the next tick of each of its symbols is skipped if it repeats the last one.
        Raises ``SinkError``."""
        self._send(MARK, self._encode(self._index(self.account if account is None else account)))
        await self._drain()

    def stats(self) -> SinkStats:
        """The counts as the writer last reported them (a few times a second)."""
        report, started = self._writer.report, self._writer.started
        counts = tuple(SymbolCounts(a, s, r, w) for a, s, r, w in sorted(report.counts))
        written = sum(c.written for c in counts)
        return SinkStats(
            session=self.session,
            sent=self._sent,
            counts=counts,
            files=report.files,
            duplicates=report.duplicates,
            backlog=max(0, self._sent - written - report.duplicates),
            gaps=self._gaps + started.restart_gaps,
            recovered=started.recovered,
            restart_gaps=started.restart_gaps,
        )

    # ------------------------------------------------------------- plumbing

    def _index(self, account: str) -> int:
        index = self._accounts.get(account)
        if index is None:
            index = self._accounts[account] = len(self._accounts)
            self._send(ACCOUNT, self._encode((index, account)))
        return index

    def _send(self, kind: int, body: bytes) -> None:
        self._write(FRAME.pack(len(body), kind) + body)

    def _write(self, data: bytes | bytearray) -> None:
        if self._state != "open":
            raise SinkError("write to a sink inside its block: 'async with ParquetSink(dir) as s'")
        self._writer.write(data)

    async def _drain(self) -> None:
        await self._writer.drain()


class ParquetSink(Sink):
    """Parquet files (zstd, typed columns), one per symbol, broker date and rotation."""

    format = "parquet"


class CsvSink(Sink):
    """CSV files with a header row, in the same layout as ``ParquetSink``'s."""

    format = "csv"


class JsonlSink(Sink):
    """JSON lines, one tick per line, in the same layout as ``ParquetSink``'s."""

    format = "jsonl"


SINKS: Final[dict[str, type[Sink]]] = {"parquet": ParquetSink, "csv": CsvSink, "jsonl": JsonlSink}


def _ns(value: datetime | int) -> int:
    return value if isinstance(value, int) else datetime_ns(value)
