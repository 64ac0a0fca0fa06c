"""Where an archive keeps what: paths, names, and the session id.

::

    DIR/ticks/symbol=EURUSD/date=2026-01-05/<session>-<n>.parquet   sealed parts (Hive-style)
    DIR/ticks/symbol=EURUSD/date=2026-01-05/.<session>-<n>.arrows   the part being written
    DIR/gaps/<session>.parquet                                      gaps of a finished session
    DIR/sessions/<session>.parquet                                  one row per finished session
    DIR/_journal/<session>.jsonl                                    the session's journal

Names starting with ``.`` or ``_`` are skipped by pyarrow's, polars' and
DuckDB's dataset discovery, so a part in progress (or a temporary file) is
never read as data. The date is the broker's date of the ticks (the day as
the broker's server counts it). No pyarrow here: the parent of the writer
and ``coverage`` use it too.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, TypeAlias
from urllib.parse import quote, unquote

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "Format",
    "Layout",
    "PartName",
    "new_session_id",
]

Format: TypeAlias = Literal["parquet", "csv", "jsonl"]
FORMATS: Final[tuple[Format, ...]] = ("parquet", "csv", "jsonl")
#: The sealed file's extension per format; a part in progress adds ``SPOOL_SUFFIX``'s name.
EXTENSIONS: Final[dict[str, str]] = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}
#: Parquet parts are written as an Arrow IPC stream first (readable up to a torn tail).
SPOOL_EXTENSIONS: Final[dict[str, str]] = {"parquet": ".arrows", "csv": ".csv", "jsonl": ".jsonl"}
TMP_SUFFIX: Final = ".tmp"


def new_session_id(now_ns: int | None = None) -> str:
    """``20260105T100000Z-1a2b3c``: sortable by start time (to the second), and unique."""
    started = datetime.fromtimestamp((now_ns or time.time_ns()) / 1e9, UTC)
    return f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _segment(value: str) -> str:
    # Hive readers URL-decode partition values, so any symbol survives a path.
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class PartName:
    """One part of the ticks table: ``<session>-<n>`` under its symbol and date."""

    symbol: str
    date: str
    session: str
    number: int

    @property
    def stem(self) -> str:
        return f"{self.session}-{self.number:05d}"


@dataclass(frozen=True, slots=True)
class Layout:
    """The paths of one archive rooted at ``root``."""

    root: Path

    @property
    def ticks(self) -> Path:
        return self.root / "ticks"

    @property
    def gaps(self) -> Path:
        return self.root / "gaps"

    @property
    def sessions(self) -> Path:
        return self.root / "sessions"

    @property
    def journals(self) -> Path:
        return self.root / "_journal"

    def journal(self, session: str) -> Path:
        return self.journals / f"{session}.jsonl"

    def gaps_file(self, session: str) -> Path:
        return self.gaps / f"{session}.parquet"

    def session_file(self, session: str) -> Path:
        return self.sessions / f"{session}.parquet"

    def partition(self, symbol: str, date: str) -> Path:
        return self.ticks / f"symbol={_segment(symbol)}" / f"date={date}"

    def sealed(self, part: PartName, fmt: str) -> Path:
        return self.partition(part.symbol, part.date) / f"{part.stem}{EXTENSIONS[fmt]}"

    def spool(self, part: PartName, fmt: str) -> Path:
        return self.partition(part.symbol, part.date) / f".{part.stem}{SPOOL_EXTENSIONS[fmt]}"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def exists(self) -> bool:
        """Whether an archive (any session's journal) is here already."""
        return self.journals.is_dir() and any(self.journals.glob("*.jsonl"))

    def session_ids(self) -> list[str]:
        if not self.journals.is_dir():
            return []
        return sorted(p.stem for p in self.journals.glob("*.jsonl"))

    def files_of(self, session: str) -> list[tuple[Path, PartName, bool]]:
        """Every tick file of ``session``: (path, its name, whether it is still a spool).

        Temporary files (``.tmp``) are not listed: they are never data.
        """
        found: list[tuple[Path, PartName, bool]] = []
        if not self.ticks.is_dir():
            return found
        for path in self.ticks.glob(f"symbol=*/date=*/*{session}-*"):
            name = path.name
            if name.endswith(TMP_SUFFIX):
                continue
            spool = name.startswith(".")
            stem = name.lstrip(".").split(".", 1)[0]
            if not stem.startswith(session + "-"):
                continue
            number = stem[len(session) + 1 :]
            if not number.isdigit():
                continue
            symbol = unquote(path.parent.parent.name.partition("=")[2])
            date = path.parent.name.partition("=")[2]
            found.append((path, PartName(symbol, date, session, int(number)), spool))
        return sorted(found, key=lambda item: (item[1].number, item[2]))

    def temporaries_of(self, session: str) -> list[Path]:
        if not self.ticks.is_dir():
            return []
        return sorted(self.ticks.glob(f"symbol=*/date=*/.{session}-*{TMP_SUFFIX}"))


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
