"""What a sink and its writer process say to each other (no pyarrow: both sides import it).

Sink to writer, on the writer's stdin: frames of ``<length:u32><kind:u8><body>``.
A ticks frame's body is ``<account:u16><received_ns:i64>`` and the batch as
msgpack (one C call on the event loop: the only per-tick work the sink does
there). The other kinds carry one msgpack object.

Writer to sink, on its stdout: one JSON object per line (``Report``).
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import Final

import msgspec

__all__ = [
    "ACCOUNT",
    "CLOSE",
    "FRAME",
    "GAP",
    "LISTEN",
    "MARK",
    "OPEN",
    "TICKS",
    "TICKS_HEAD",
    "Close",
    "Open",
    "Report",
    "Tick",
    "tick_time",
]

FRAME: Final = struct.Struct("<IB")
TICKS_HEAD: Final = struct.Struct("<Hq")

OPEN: Final = 1
TICKS: Final = 2
ACCOUNT: Final = 3
GAP: Final = 4
MARK: Final = 5
CLOSE: Final = 6
LISTEN: Final = 7


class Open(msgspec.Struct, kw_only=True):
    """The first frame: what to write, where, and how to rotate."""

    root: str
    format: str
    session: str
    started: int
    rotate_ns: int
    max_bytes: int | None
    resume: bool
    row_group_rows: int
    #: Seconds between progress reports.
    report_interval: float
    subscriptions: list[tuple[str, list[str]]] = []


class Close(msgspec.Struct, kw_only=True):
    ended: int


class Report(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line from the writer: ``ready``, ``progress``, ``closed`` or ``error``."""

    kind: str
    #: [account, symbol, received, written] where written = on disk (spooled or sealed).
    counts: list[tuple[str, str, int, int]] = []
    files: int = 0
    duplicates: int = 0
    #: Ticks received but not yet on disk.
    backlog: int = 0
    #: ``ready``: files recovered from crashed sessions, and the restart gaps recorded.
    recovered: int = 0
    restart_gaps: int = 0
    message: str = ""


class Tick(msgspec.Struct, gc=False):
    """A ``Quote`` as the writer decodes it: its time left as the msgpack timestamp the sink
    wrote, turned into a column a flush at a time (``_schema.broker_times``)."""

    symbol: str
    bid: float
    ask: float
    time: msgspec.Raw
    spread: float | None = None


_decode_time = msgspec.msgpack.Decoder(datetime).decode


def tick_time(tick: Tick) -> datetime:
    """The tick's broker time as a ``datetime`` (for the few ticks that need one)."""
    return _decode_time(tick.time)
