"""The firehose's frames: built once, every frame distinct, in either format.

Quote number ``j`` (0-based, over all symbols) is for symbol ``j % k`` and its
bid is ``1.0 + j * 1e-7`` (``"1.%07d"``), so a consumer can tell exactly which
quote it holds and how new it is (suite 5). After the ``n`` frames come ``k``
sentinel frames, one per symbol, with ``bid = -1``.

- ``ours``: the contract's frames (the reference dialect),
  ``{"type":"quote","account_id":"bench","data":{"symbol","bid","ask","time"}}``.
- ``vendor``: the vendor SDK's, which are also the terminal dialect's
  (``fxsocket_async/_dialects/terminal/wire.py``, ``TTick``):
  ``{"type":"tick","symbol":..,"data":{"symbol","bid","ask","time","last","volume"}}``.
"""

from __future__ import annotations

import struct
from array import array

__all__ = ["ACCOUNT", "SYMBOLS", "FrameStore", "quote_payload", "sentinel_payload", "ws_frame"]

SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD")
ACCOUNT = "bench"


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked server-to-client frame (FIN set)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def _time_text(j: int) -> str:
    # A distinct, valid broker time per quote: one millisecond apart.
    ms = j % 1000
    s = j // 1000
    return f"2026-01-05T{(s // 3600) % 24:02d}:{(s // 60) % 60:02d}:{s % 60:02d}.{ms:03d}Z"


def _our_payload(j: int, symbol: str, bid: str, ask: str) -> bytes:
    return (
        f'{{"type":"quote","account_id":"{ACCOUNT}","data":{{"symbol":"{symbol}",'
        f'"bid":{bid},"ask":{ask},"time":"{_time_text(j)}"}}}}'
    ).encode()


def _vendor_payload(j: int, symbol: str, bid: str, ask: str) -> bytes:
    return (
        f'{{"type":"tick","symbol":"{symbol}","data":{{"symbol":"{symbol}",'
        f'"bid":{bid},"ask":{ask},"time":"{_time_text(j)}","last":0.0,"volume":0}}}}'
    ).encode()


PAYLOADS = {"ours": _our_payload, "vendor": _vendor_payload}


def quote_payload(fmt: str, j: int, k: int) -> bytes:
    """Quote number ``j`` of a ``k``-symbol stream in format ``fmt`` (unframed)."""
    return PAYLOADS[fmt](j, SYMBOLS[j % k], f"1.{j % 10_000_000:07d}", f"1.{j % 10_000_000:07d}2")


def sentinel_payload(fmt: str, symbol: str) -> bytes:
    return PAYLOADS[fmt](0, symbol, "-1.0", "-1.0")


def sentinels(fmt: str, k: int) -> bytes:
    """The ``k`` end frames, one per symbol, framed."""
    return b"".join(ws_frame(sentinel_payload(fmt, s)) for s in SYMBOLS[:k])


class FrameStore:
    """Pre-framed quote streams, built once per (format, symbols) and reused."""

    def __init__(self) -> None:
        self._streams: dict[tuple[str, int], tuple[bytes, array[int]]] = {}

    def get(self, fmt: str, k: int, n: int) -> tuple[memoryview, array[int]]:
        """The first ``n`` frames (bytes) and the byte offset of each frame boundary."""
        cached = self._streams.get((fmt, k))
        if cached is None or len(cached[1]) - 1 < n:
            cached = self._streams[(fmt, k)] = self._build(fmt, k, n)
        return memoryview(cached[0]), cached[1]

    @staticmethod
    def _build(fmt: str, k: int, n: int) -> tuple[bytes, array[int]]:
        offsets = array("Q", [0])
        parts: list[bytes] = []
        pos = 0
        for j in range(n):
            frame = ws_frame(quote_payload(fmt, j, k))
            parts.append(frame)
            pos += len(frame)
            offsets.append(pos)
        return b"".join(parts), offsets
