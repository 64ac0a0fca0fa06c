"""``coverage(dir)``: what an archive covers, and where its holes are, per symbol.

Read from the sessions' journals alone (no pyarrow, nothing written): a
session covers each symbol it collected from its start to its end (for a
crashed session not yet recovered, to its last file's last tick; for one
still running, to now), or from when it said it listened (its subscription)
when it did. The gaps it recorded are cut out of that, and
whatever lies between sessions without a recorded gap is a gap too,
``not collecting``. Times are UTC nanoseconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._journal import (
    End,
    FileSealed,
    GapRecord,
    Listening,
    SessionStart,
    is_running,
    read_journal,
)
from ._layout import Layout
from ._timefmt import iso_ns

__all__ = ["Coverage", "Gap", "SessionInfo", "Span", "SymbolCoverage", "coverage"]

_Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Span:
    """From ``start`` to ``end`` (UTC ns)."""

    start: int
    end: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / 1e9

    def to_json(self) -> dict[str, Any]:
        return {"start": iso_ns(self.start), "end": iso_ns(self.end), "seconds": self.seconds}


@dataclass(frozen=True, slots=True)
class Gap(Span):
    """No ticks collected from ``start`` to ``end``, and why (``reason``, ``detail``)."""

    reason: str = ""
    detail: str = ""
    session: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            **Span.to_json(self),
            "reason": self.reason,
            "detail": self.detail,
            "session": self.session,
        }


@dataclass(frozen=True, slots=True)
class SymbolCoverage:
    account: str
    symbol: str
    ticks: int
    files: int
    covered: tuple[Span, ...]
    gaps: tuple[Gap, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "symbol": self.symbol,
            "ticks": self.ticks,
            "files": self.files,
            "covered": [s.to_json() for s in self.covered],
            "gaps": [g.to_json() for g in self.gaps],
        }


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session: str
    started: int
    #: None while it runs.
    ended: int | None
    #: ``stopped``, ``orphaned``, ``crashed`` (recovered), ``running``, or ``unfinished``
    #: (crashed; its part in progress is recovered by the next ``--resume``).
    how: str
    ticks: int
    files: int
    #: Files its journal lists that are not there any more.
    missing: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "started": iso_ns(self.started),
            "ended": None if self.ended is None else iso_ns(self.ended),
            "how": self.how,
            "ticks": self.ticks,
            "files": self.files,
            "missing": list(self.missing),
        }


@dataclass(frozen=True, slots=True)
class Coverage:
    directory: str
    sessions: tuple[SessionInfo, ...]
    symbols: tuple[SymbolCoverage, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "sessions": [s.to_json() for s in self.sessions],
            "symbols": [s.to_json() for s in self.symbols],
        }


@dataclass
class _Session:
    info: SessionInfo
    keys: set[_Key]
    files: list[FileSealed]
    gaps: list[GapRecord]
    #: When it started listening to each key (its subscription), if it said so.
    listening: dict[_Key, int]

    def start_of(self, key: _Key) -> int:
        return self.listening.get(key, self.info.started)


def _read_session(layout: Layout, session: str) -> _Session | None:
    path = layout.journal(session)
    records = read_journal(path)
    start = next((r for r in records if isinstance(r, SessionStart)), None)
    if start is None:
        return None
    end = next((r for r in records if isinstance(r, End)), None)
    files = [r for r in records if isinstance(r, FileSealed)]
    gaps = [r for r in records if isinstance(r, GapRecord)]
    keys = {(f.account, f.symbol) for f in files} | {(g.account, g.symbol) for g in gaps}
    keys.update((a, s) for a, symbols in start.subscriptions for s in symbols)
    if end is not None:
        ended: int | None = end.ended
        how = end.how
    elif is_running(path):
        ended, how = None, "running"
    else:
        ended, how = max([f.last for f in files], default=start.started), "unfinished"
    missing = tuple(f.path for f in files if not (layout.root / f.path).exists())
    info = SessionInfo(
        session=session,
        started=start.started,
        ended=ended,
        how=how,
        ticks=sum(f.rows for f in files),
        files=len(files),
        missing=missing,
    )
    listening: dict[_Key, int] = {}
    for record in records:
        if isinstance(record, Listening):
            for symbol in record.symbols:
                listening.setdefault((record.account, symbol), record.at)
    keys.update(listening)
    kept = [g for g in gaps if g.end > g.start]
    return _Session(info, {k for k in keys if k[1]}, files, kept, listening)


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(spans: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in spans:
        cursor = start
        for hole_start, hole_end in holes:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                out.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
        if cursor < end:
            out.append((cursor, end))
    return out


def _symbol(key: _Key, sessions: list[_Session], now: int) -> SymbolCoverage:
    spans = []
    recorded: list[Gap] = []
    ticks = files = 0
    for s in sessions:
        if key not in s.keys:
            continue
        spans.append((s.start_of(key), s.info.ended if s.info.ended is not None else now))
        for f in s.files:
            if (f.account, f.symbol) == key:
                ticks += f.rows
                files += 1
        for g in s.gaps:
            if (g.account, g.symbol) == key:
                recorded.append(Gap(g.start, g.end, g.reason, g.detail, s.info.session))
    sessions_merged = _merge(spans)
    holes = _merge((g.start, g.end) for g in recorded)
    covered = _subtract(sessions_merged, holes)
    known = _merge([*sessions_merged, *holes])
    between = [
        Gap(known[i][1], known[i + 1][0], "not collecting", "no session was collecting")
        for i in range(len(known) - 1)
    ]
    gaps = sorted([*recorded, *between], key=lambda g: (g.start, g.end))
    return SymbolCoverage(
        account=key[0],
        symbol=key[1],
        ticks=ticks,
        files=files,
        covered=tuple(Span(a, b) for a, b in covered),
        gaps=tuple(gaps),
    )


def coverage(directory: str | os.PathLike[str]) -> Coverage:
    """What the archive in ``directory`` covers, per symbol; raises ``FileNotFoundError``
    when there is no archive there."""
    layout = Layout(Path(directory))
    if not layout.exists():
        raise FileNotFoundError(f"no archive in {directory} (no {layout.journals.name}/ there)")
    now = time.time_ns()
    sessions = [s for s in (_read_session(layout, i) for i in layout.session_ids()) if s]
    keys = sorted({key for s in sessions for key in s.keys}, key=lambda k: (k[1], k[0]))
    return Coverage(
        directory=str(directory),
        sessions=tuple(s.info for s in sessions),
        symbols=tuple(_symbol(key, sessions, now) for key in keys),
    )
