"""The writer process, started by a ``Sink`` (see ``_process``; also runs as
``python -m fxsocket_async.collect._writer``).

It reads the sink's frames on stdin (``_protocol``), writes the archive and
reports on stdout. Disk work lives here, in a process of its own, so the
collector's event loop never waits on a disk nor shares its GIL with the
conversion to columns. Sealing runs in a thread of this process (pyarrow
releases the GIL there), so the intake keeps reading while a part is sealed.

It ignores SIGINT and SIGTERM: the collector decides when to stop (Ctrl-C
in a terminal reaches the whole process group). When its stdin ends without
a ``close`` (the collector was killed), it seals everything it holds and
ends the session as ``orphaned``: nothing received is lost.
"""

from __future__ import annotations

import os
import queue
import select
import signal
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Final

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]

from ._archive import previous_ends, recover_all
from ._journal import End, FileSealed, GapRecord, Journal, Listening, Record, SessionStart
from ._layout import Layout, PartName
from ._parts import Part, next_midnight
from ._protocol import (
    ACCOUNT,
    CLOSE,
    FRAME,
    GAP,
    LISTEN,
    MARK,
    OPEN,
    TICKS,
    TICKS_HEAD,
    Close,
    Open,
    Report,
    Tick,
    tick_time,
)
from ._recovery import write_tables
from ._sealing import Sealer
from ._timefmt import datetime_ns

__all__ = ["Writer", "main"]

#: A part appends to its spool once it holds this many ticks (or on the next timer).
FLUSH_ROWS: Final = 8192
#: The timer: held ticks reach the disk at least this often (the most a kill -9 of
#: both processes can lose), and rotation deadlines are checked.
TICK_INTERVAL: Final = 0.2
_Key = tuple[str, str]


class Writer:
    """The archive of one session: parts, counts, gaps, the journal."""

    def __init__(self, config: Open) -> None:
        self.config = config
        self.layout = Layout(Path(config.root))
        self.fmt = config.format
        self.session = config.session
        self._decode = msgspec.msgpack.Decoder(list[Tick]).decode
        self._decode_any = msgspec.msgpack.Decoder().decode
        self._accounts: dict[int, str] = {}
        self._parts: dict[_Key, Part] = {}
        self._counts: dict[_Key, list[int]] = {}
        self._last: dict[_Key, Tick | tuple[int, float, float]] = {}
        self._check: set[_Key] = set()
        self._records: list[Record] = []
        #: Restart gaps waiting for their end: the key's first subscription in this session.
        self._restarts: dict[_Key, tuple[int, str]] = {}
        self._first: dict[_Key, int] = {}
        self._seq = 0
        self._number = 0
        self._sealing = 0
        self.files = 0
        self.duplicates = 0
        self.journal: Journal | None = None
        self._sealer = Sealer(self.layout, self.fmt, config.row_group_rows)

    # ------------------------------------------------------------ start, end

    def start(self) -> Report:
        """Recover what crashed sessions left, open our journal, record restart gaps."""
        recovered = recover_all(self.layout, self.session, self.config.row_group_rows)
        self.journal = Journal(self.layout.journal(self.session))
        subscriptions = self.config.subscriptions
        self._record(
            SessionStart(
                session=self.session,
                started=self.config.started,
                format=self.fmt,
                resumed=self.config.resume,
                subscriptions=subscriptions,
            )
        )
        if self.config.resume:
            ends, last_ticks = previous_ends(self.layout, self.session)
            self._last.update(last_ticks)
            self._check.update(last_ticks)
            self._restarts = {k: v for k, v in ends.items() if v[0] < self.config.started}
        self._sealer.start()
        return Report(kind="ready", recovered=recovered, restart_gaps=len(self._restarts))

    def _restarted(self, key: _Key, at: int) -> None:
        """The restart gap of ``key`` ends now that this session listens to it."""
        pending = self._restarts.pop(key, None)
        if pending is None:
            return
        ended, session = pending
        self._record(
            GapRecord(
                account=key[0],
                symbol=key[1],
                start=ended,
                end=max(at, ended),
                reason="restart",
                detail=f"from the end of session {session} to this one's subscription",
            )
        )

    def close(self, ended: int, how: str) -> Report:
        """Seal every part, wait for the sealer, write the end and the session's tables."""
        for key in list(self._parts):
            self._seal(key)
        for key in list(self._restarts):
            self._restarted(key, self._first.get(key, self.config.started))
        self._sealer.stop()
        self._sealer.join()
        self.collect_sealed()
        counts = [
            (account, symbol, received, written)
            for (account, symbol), (received, written) in sorted(self._counts.items())
        ]
        self._record(End(ended=ended, how=how, counts=counts, duplicates=self.duplicates))
        assert self.journal is not None
        self.journal.close()
        write_tables(self.layout, self.session, self._records)
        return self.report("closed")

    def report(self, kind: str) -> Report:
        return Report(
            kind=kind,
            counts=[(a, s, r, w) for (a, s), (r, w) in self._counts.items()],
            files=self.files,
            duplicates=self.duplicates,
            backlog=sum(part.pending for part in self._parts.values()),
        )

    def _record(self, record: Record) -> None:
        assert self.journal is not None
        self.journal.append(record)
        self._records.append(record)

    # ------------------------------------------------------------------ intake

    def handle(self, kind: int, body: memoryview) -> Close | None:
        """One frame from the sink; returns the ``Close`` when it is one."""
        if kind == TICKS:
            self._ticks(body)
        elif kind == ACCOUNT:
            index, account = self._decode_any(body)
            self._accounts[int(index)] = str(account)
        elif kind == GAP:
            self._record(msgspec.msgpack.decode(body, type=GapRecord))
        elif kind == LISTEN:
            listening = msgspec.msgpack.decode(body, type=Listening)
            self._record(listening)
            for symbol in listening.symbols:
                self._restarted((listening.account, symbol), listening.at)
        elif kind == MARK:
            account = self._accounts[int(self._decode_any(body))]
            self._check.update(key for key in self._last if key[0] == account)
        elif kind == CLOSE:
            return msgspec.msgpack.decode(body, type=Close)
        else:
            raise ValueError(f"unknown frame kind {kind}")
        return None

    def _ticks(self, body: memoryview) -> None:
        index, received = TICKS_HEAD.unpack_from(body)
        quotes = self._decode(body[TICKS_HEAD.size :])
        count = len(quotes)
        if not count:
            return
        account = self._accounts[index]
        seq = self._seq
        self._seq += count
        first = quotes[0].symbol
        symbols = [q.symbol for q in quotes]
        if symbols.count(first) == count:  # one symbol: the common case, no regrouping
            self._add(account, first, quotes, received, (seq, count))
            return
        groups: dict[str, list[int]] = {}
        for i, symbol in enumerate(symbols):
            groups.setdefault(symbol, []).append(i)
        for symbol, indexes in groups.items():
            self._add(
                account, symbol, [quotes[i] for i in indexes], received, [seq + i for i in indexes]
            )

    def _add(
        self,
        account: str,
        symbol: str,
        quotes: list[Tick],
        received: int,
        seqs: tuple[int, int] | list[int],
    ) -> None:
        key = (account, symbol)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0]
            self._first[key] = received
        counts[0] += len(quotes)
        if key in self._check:
            self._check.discard(key)
            if _same_tick(quotes[0], self._last.get(key)):
                # A repeat of the last tick written (a snapshot after a reconnect or a resume).
                self.duplicates += 1
                quotes, seqs = quotes[1:], _after(seqs, 1)
                if not quotes:
                    return
        self._last[key] = quotes[-1]
        while quotes:
            part = self._parts.get(key) or self._open(key, tick_time(quotes[0]), received)
            if tick_time(quotes[-1]) >= part.day_end:  # the broker's midnight: the next day's
                cut = next(i for i, q in enumerate(quotes) if tick_time(q) >= part.day_end)
                if cut:
                    part.add(quotes[:cut], received, _before(seqs, cut))
                self._seal(key)
                self._open(key, tick_time(quotes[cut]), received)
                quotes, seqs = quotes[cut:], _after(seqs, cut)
                continue
            part.add(quotes, received, seqs)
            if part.pending >= FLUSH_ROWS:
                self._flush(key, part)
            break

    def _open(self, key: _Key, time_: datetime, received: int) -> Part:
        account, symbol = key
        self._number += 1
        name = PartName(symbol, time_.date().isoformat(), self.session, self._number)
        part = Part(self.layout, name, account, self.fmt, received, next_midnight(time_))
        rotate = self.config.rotate_ns
        # Rotation is aligned to the clock: an hourly part ends on the hour.
        part.rotate_at = (received // rotate + 1) * rotate if rotate else 0
        self._parts[key] = part
        return part

    def _flush(self, key: _Key, part: Part, *, sealing: bool = False) -> None:
        pending = part.pending
        batch = part.flush()
        if batch is None:
            return
        self._counts[key][1] += pending
        if self.fmt == "parquet":
            self._sealer.batch(part, batch)
        limit = self.config.max_bytes
        if not sealing and limit is not None and part.bytes >= limit:
            self._seal(key)

    def _seal(self, key: _Key) -> None:
        part = self._parts.pop(key)
        self._flush(key, part, sealing=True)
        if part.finish():
            self._sealing += 1
            self._sealer.seal(part)

    # ------------------------------------------------------------------ timers

    def on_timer(self, now: int) -> None:
        """Held ticks to disk; parts past their rotation sealed; finished seals journaled."""
        for key, part in list(self._parts.items()):
            if part.rotate_at and now >= part.rotate_at:
                self._seal(key)
            elif part.pending:
                self._flush(key, part)
        self.collect_sealed()

    def collect_sealed(self) -> None:
        while True:
            try:
                part, path, error = self._sealer.done.get_nowait()
            except queue.Empty:
                return
            self._sealing -= 1
            if error is not None:
                raise RuntimeError(f"sealing {part.spool_path} failed: {error!r}") from error
            if path is None:
                continue
            self.files += 1
            self._record(
                FileSealed(
                    path=self.layout.relative(path),
                    account=part.account,
                    symbol=part.name.symbol,
                    rows=part.rows,
                    first=part.first,
                    last=part.last,
                    first_seq=part.first_seq,
                    last_seq=part.last_seq,
                    last_tick=part.last_tick,
                )
            )


def _before(seqs: tuple[int, int] | list[int], cut: int) -> tuple[int, int] | list[int]:
    return (seqs[0], cut) if isinstance(seqs, tuple) else seqs[:cut]


def _after(seqs: tuple[int, int] | list[int], cut: int) -> tuple[int, int] | list[int]:
    return (seqs[0] + cut, seqs[1] - cut) if isinstance(seqs, tuple) else seqs[cut:]


def _same_tick(tick: Tick, last: Tick | tuple[int, float, float] | None) -> bool:
    if last is None:
        return False
    if isinstance(last, Tick):  # one encoder wrote both: the same instant, the same bytes
        return (bytes(tick.time), tick.bid, tick.ask) == (bytes(last.time), last.bid, last.ask)
    return (datetime_ns(tick_time(tick)), tick.bid, tick.ask) == tuple(last)


# --------------------------------------------------------------------- process


class _Out:
    """Reports on stdout, one JSON line each; a vanished reader is not an error here."""

    def __init__(self) -> None:
        self._encode = msgspec.json.Encoder().encode
        self.gone = False

    def send(self, report: Report) -> None:
        if self.gone:
            return
        try:
            os.write(1, self._encode(report) + b"\n")
        except (BrokenPipeError, OSError):
            self.gone = True


def _serve(fd: int, out: _Out) -> int:
    buffer = bytearray()
    writer: Writer | None = None
    next_tick = next_report = time.monotonic()
    while True:
        now = time.monotonic()
        wait = max(0.0, min(next_tick, next_report) - now) if writer else None
        ready, _, _ = select.select([fd], [], [], wait)
        if ready:
            data = os.read(fd, 1 << 18)
            if not data:
                if writer is not None:  # the collector vanished: keep what it sent
                    out.send(writer.close(time.time_ns(), "orphaned"))
                return 0
            buffer += data
            offset = 0
            while len(buffer) - offset >= FRAME.size:
                length, kind = FRAME.unpack_from(buffer, offset)
                end = offset + FRAME.size + length
                if len(buffer) < end:
                    break
                # A copy: a view into the buffer would pin it, and it must shrink below.
                body = memoryview(bytes(buffer[offset + FRAME.size : end]))
                offset = end
                if kind == OPEN:
                    writer = Writer(msgspec.msgpack.decode(body, type=Open))
                    out.send(writer.start())
                    continue
                if writer is None:
                    raise ValueError("the first frame must open the archive")
                closing = writer.handle(kind, body)
                if closing is not None:
                    out.send(writer.close(closing.ended, "stopped"))
                    return 0
            del buffer[:offset]
        if writer is None:
            continue
        now = time.monotonic()
        if now >= next_tick:
            writer.on_timer(time.time_ns())
            next_tick = now + TICK_INTERVAL
        if now >= next_report:
            out.send(writer.report("progress"))
            next_report = now + writer.config.report_interval


def main() -> int:
    # The collector says when to stop; a Ctrl-C reaches this process too, and must not.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The C allocator gives freed buffers back; pyarrow's default pool (mimalloc) kept
    # 30-45 MB more at the same load, measured.
    pa.set_memory_pool(pa.system_memory_pool())
    out = _Out()
    try:
        return _serve(sys.stdin.fileno(), out)
    except BaseException as exc:
        out.send(Report(kind="error", message=f"{type(exc).__name__}: {exc}"))
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
