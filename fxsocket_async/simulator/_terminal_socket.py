"""One terminal WebSocket: what it subscribed to, and its bounded outgoing queue.

The slow-client policy (the simulator's choice; the vendor SDK only shows the
``warning`` frame): each socket has its own queue, drained by its own writer
task. Once ``limit`` frames wait in it, new ``tick`` and ``bar`` frames are
dropped and counted instead of queued (the next ones bring fresher prices
anyway); every other frame (acknowledgements, positions, trades, account and
terminal pushes) is still queued. The drops are reported where they happened:
the first one queues a ``{"type": "warning", "dropped": n}`` frame, and the
drops that follow it (with nothing queued after it) add to its ``n``, so the
client reads the warning exactly between the last frame before the gap and
the first after it. Only a reader so slow that 10,000 frames (or ``limit``,
if larger) that cannot be dropped pile up is closed, with 1013.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from .._core.codec import encode
from ._config import ApiKey
from ._terminal_wire import WarningFrame

__all__ = ["HARD_LIMIT", "Sub", "TerminalSocket"]

log = logging.getLogger("fxsocket_async.simulator")

#: Frames that cannot be dropped a socket may queue before it is closed (1013).
HARD_LIMIT = 10_000
_TEXT = WSMsgType.TEXT

#: One subscription: (topic, symbol, timeframe), "" where the topic takes none.
Sub = tuple[str, str, str]


class _Warning:
    """A queued ``warning`` frame whose count grows while drops follow it."""

    __slots__ = ("dropped",)

    def __init__(self) -> None:
        self.dropped = 1

    def encode(self) -> bytes:
        return encode(WarningFrame(dropped=self.dropped))


@dataclass(eq=False)
class TerminalSocket:
    """One client's WebSocket on one account's terminal."""

    ws: web.WebSocketResponse
    request: web.Request
    account_id: str
    api_key: ApiKey = field(repr=False)
    limit: int = 1000
    subscriptions: set[Sub] = field(default_factory=set)
    queue: deque[bytes | _Warning] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    #: Every tick and bar dropped on this socket.
    dropped_total: int = 0
    overflowed: bool = False
    stalled: bool = False
    close_code: int | None = None

    def push(self, frame: bytes, *, droppable: bool = False) -> None:
        """Queue ``frame`` for the writer (or drop it, by the policy above)."""
        if self.overflowed or self.close_code is not None:
            return
        queue = self.queue
        waiting = len(queue)
        if waiting >= self.limit and droppable:
            self.dropped_total += 1
            last = queue[-1] if queue else None
            if isinstance(last, _Warning):
                last.dropped += 1
            else:
                queue.append(_Warning())
            return
        if waiting >= max(HARD_LIMIT, self.limit):
            self.overflowed = True
            log.warning("closing a terminal WebSocket whose reader fell %d frames behind", waiting)
            self.ready.set()
            return
        queue.append(frame)
        if not self.stalled:
            self.ready.set()

    def close_soon(self, code: int) -> None:
        """Close the socket with ``code`` once the writer gets to it."""
        self.close_code = code
        self.ready.set()

    def set_stalled(self, stalled: bool) -> None:
        self.stalled = stalled
        if not stalled:
            self.ready.set()

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def write(self) -> None:
        """The writer task: sends queued frames in order until the socket closes."""
        ws = self.ws
        while True:
            while not self.overflowed and self.close_code is None:
                if self.queue and not self.stalled:
                    break
                self.ready.clear()
                await self.ready.wait()
            if self.overflowed:
                await ws.close(code=1013, message=b"client too slow")
                return
            if self.close_code is not None:
                await ws.close(code=self.close_code)
                return
            item = self.queue.popleft()
            frame = item.encode() if isinstance(item, _Warning) else item
            try:
                await ws.send_frame(frame, _TEXT)
            except ConnectionError:
                return
