"""A session's journal: one JSON object per line, appended as things happen.

The journal is the archive's index and its record of holes: the session's
start, every gap (reconnect, overflow, restart...), every file sealed (rows,
first and last receive time, the last tick), and the end with the counts.
Each record is written with one ``write`` on an unbuffered descriptor, so a
kill -9 leaves at most a torn last line, which readers skip. Times are UTC
nanoseconds. Plain JSON lines: ``polars.read_ndjson`` reads it too.

The writer process holds an exclusive ``flock`` on its journal while it
runs, so a later start can tell a crashed session (lock free, no ``end``)
from one still running (locked).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TypeAlias

import msgspec

__all__ = [
    "End",
    "FileSealed",
    "GapRecord",
    "Journal",
    "Listening",
    "Record",
    "SessionStart",
    "is_running",
    "read_journal",
]

VERSION = 1


class SessionStart(msgspec.Struct, tag="session", kw_only=True):
    session: str
    started: int
    format: str
    resumed: bool = False
    #: What the collector subscribed to, [account, [symbols]] (empty for a library sink's
    #: user, whose symbols are whatever it writes): coverage counts a quiet symbol as covered.
    subscriptions: list[tuple[str, list[str]]] = []
    version: int = VERSION


class Listening(msgspec.Struct, tag="listening", kw_only=True):
    """From ``at`` on, the session received every tick of ``symbols`` the stream sent."""

    account: str
    symbols: list[str]
    at: int


class GapRecord(msgspec.Struct, tag="gap", kw_only=True):
    """No ticks of ``symbol`` (of ``account``) were collected from ``start`` to ``end``."""

    account: str
    symbol: str
    start: int
    end: int
    #: ``reconnect`` (the stream was down), ``silent`` (open, but no quote while the market
    #: was open), ``overflow`` (the collector fell behind: ticks dropped), ``restart``
    #: (between the last tick of an earlier session and a ``--resume``), or a caller's own.
    reason: str
    detail: str = ""


class FileSealed(msgspec.Struct, tag="file", kw_only=True):
    path: str
    account: str
    symbol: str
    rows: int
    first: int
    last: int
    first_seq: int
    last_seq: int
    #: The last tick's broker time (ns of its clock reading), bid and ask: resumes skip a repeat.
    last_tick: tuple[int, float, float]
    recovered: bool = False


class End(msgspec.Struct, tag="end", kw_only=True):
    ended: int
    #: ``stopped`` (closed by its collector), ``orphaned`` (its collector vanished and the
    #: writer closed it), ``crashed`` (closed by the recovery of a later start).
    how: str
    #: [account, symbol, ticks received, ticks written]
    counts: list[tuple[str, str, int, int]] = []
    duplicates: int = 0


Record: TypeAlias = SessionStart | Listening | GapRecord | FileSealed | End
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Record).decode


def read_journal(path: Path) -> list[Record]:
    """The records of a journal, in order; a torn or unreadable line (a crash) is skipped."""
    records: list[Record] = []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return records
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            records.append(_decode(line))
        except msgspec.DecodeError:
            continue
    return records


def _lock(fd: int) -> None:
    """Take ``fd``'s exclusive lock now or raise ``BlockingIOError``; the OS drops it when
    the process ends, however it ends."""
    import fcntl  # POSIX; imported here so that importing the package needs no fcntl

    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def is_running(path: Path) -> bool:
    """Whether a live writer holds this journal's lock (then nobody else may touch its files)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        _lock(fd)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's lock, if it got one
    return False


class Journal:
    """An open journal, appended to by one writer, locked while open."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _lock(self._fd)
        except BlockingIOError:
            os.close(self._fd)
            raise RuntimeError(f"{path} is in use by another collector") from None
        # A torn last line (the previous owner crashed mid-write) must not glue onto ours.
        size = os.fstat(self._fd).st_size
        if size and not path.read_bytes().endswith(b"\n"):
            os.write(self._fd, b"\n")

    def append(self, record: Record) -> None:
        os.write(self._fd, _encode(record) + b"\n")

    def sync(self) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1


def records_of(records: list[Record], kind: type[Record]) -> Iterator[Record]:
    return (r for r in records if isinstance(r, kind))
