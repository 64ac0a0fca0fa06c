"""The stream over picows (the ``fast`` extra): ``StreamPolicy(transport="picows")``.

Only imported when that transport is chosen, so the package imports without
picows. picows parses frames in C and calls ``_Listener.on_ws_frame`` for each
one, synchronously, while it reads the socket; the listener only parks them
(text payloads as ``bytes``, pings, a count of pongs) and wakes the reader
task. The reader hands the parked frames to the protocol in batches of at
most ``protocol.quotes.flush_every`` frames, yielding after each so that the
consumers it woke run before the next: the same batches the aiohttp reader
makes.

Memory stays bounded: when more than ``_HIGH_FRAMES`` frames or
``_HIGH_BYTES`` bytes wait (the loop is too busy for the reader to keep up),
the reader pauses reading on the socket, and resumes it once the backlog is
down to a quarter (``_Backlog``). While paused the kernel's buffer fills and
the server sees a slow client (a terminal socket then reports its drops,
which the stream counts).

Differences from aiohttp, on purpose: a redirect answering the handshake is
refused (``ConnectionFailedError``, code ``handshake_30x``) rather than
followed, since picows would send the key's headers to wherever it points;
the handshake itself is bounded by the connect timeout on the real clock
too, so a socket abandoned by a timed-out attempt is always closed.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import ssl
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import picows
from picows import WSCloseCode, WSFrame, WSMsgType, WSTransport

from .._core.counters import size_of
from .._exceptions import ConnectionFailedError, FxSocketError, TimeoutError
from .transport import MAX_MESSAGE, Execute, refused, unreachable

if TYPE_CHECKING:
    from .._core.dialect import StreamEndpoint
    from .._core.stream import StreamProtocol

__all__ = ["PicowsSocket", "PicowsTransport"]

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_CONTINUATION: Final = WSMsgType.CONTINUATION
_PING: Final = WSMsgType.PING
_PONG: Final = WSMsgType.PONG
_CLOSE: Final = WSMsgType.CLOSE
#: A parked backlog beyond either pauses reading on the socket.
_HIGH_FRAMES: Final = 8192
_HIGH_BYTES: Final = 4 * 1024 * 1024
#: What one read may bring: a few hundred quotes, one batch, per loop turn.
_READ_BUFFER: Final = 256 * 1024
_LOG: Final = logging.getLogger("fxsocket_async.stream.picows")


class _Quiet(logging.LoggerAdapter[logging.Logger]):
    """picows' own records, under the library's logger, but never those below DEBUG:
    at that level picows writes out the upgrade request, whose URL or headers hold
    the API key."""

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.DEBUG and self.logger.isEnabledFor(level)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level >= logging.DEBUG:
            super().log(level, msg, *args, **kwargs)


_PICOWS_LOG: Final = _Quiet(_LOG, {})


class PicowsTransport:
    """Stream sockets from picows, with TLS verified like the session's aiohttp pool.

    ``ssl_context`` is the session's (``AsyncFxSocket(ssl_context=...)``); without
    one, ``wss://`` uses ``ssl.create_default_context()``: the system's CAs,
    certificates and host names verified.
    """

    name = "picows"

    def __init__(self, ssl_context: ssl.SSLContext | None) -> None:
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return "PicowsTransport()"

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # Made once per session: loading the system's CAs takes milliseconds.
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    async def open(self, endpoint: StreamEndpoint, *, scope: str, timeout: float) -> PicowsSocket:
        """Open the socket (see ``StreamTransport.open``: our exceptions only)."""
        shown = endpoint.shown
        secure = endpoint.url[:6].lower() == "wss://"
        error: FxSocketError
        try:
            transport, listener = await picows.ws_connect(
                _new_listener,
                endpoint.url,
                ssl_context=self._tls() if secure else None,
                websocket_handshake_timeout=timeout,
                enable_auto_ping=False,
                # Pings are answered by the stream's writer, and pongs counted.
                enable_auto_pong=False,
                max_frame_size=MAX_MESSAGE,
                extra_headers=dict(endpoint.headers) or None,
                max_redirects=0,
                logger_name=_PICOWS_LOG,
                read_buffer_init_size=_READ_BUFFER,
            )
        except picows.WSHandshakeError as exc:
            status = int(exc.response.status) if exc.response is not None else 0
            if status >= 300:
                error = refused(status, shown, scope)
            else:
                error = ConnectionFailedError(
                    f"the stream at {shown} did not answer with a WebSocket upgrade: "
                    f"{type(exc).__name__}"
                )
        except builtins.TimeoutError:  # before OSError, whose subclass it is
            error = TimeoutError(f"opening the stream at {shown} took more than {timeout:g} s")
        except (picows.WSError, OSError) as exc:
            error = unreachable(shown, exc)
        else:
            if isinstance(listener, _Listener) and not transport.is_disconnected:
                return PicowsSocket(transport, listener)
            transport.disconnect(graceful=False)
            error = ConnectionFailedError(
                f"the stream at {shown} closed the connection during the handshake"
            )
        # Raised here, outside the handler: picows' error (whose request or
        # URL may hold the key) must not ride along as __context__.
        raise error


class _Listener(picows.WSListener):
    """Parks what picows reads until the reader task takes it."""

    # Slots, not a __dict__: on a subclass of picows' extension type, Python 3.11 does
    # not specialise instance-dict attribute access, and the per-frame callback touches
    # several attributes. Measured: the callback's attribute work ~370 ns -> ~190 ns.
    __slots__ = (
        "_parts", "_parts_size", "_parts_text", "close_code", "ended", "frames", "pings",
        "pongs", "waiter",
    )  # fmt: skip

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.pings: list[bytes] = []
        self.pongs = 0
        self.ended = False
        self.close_code: int | None = None
        self.waiter: asyncio.Future[None] | None = None
        # A fragmented message being put together: its parts, and whether it is text.
        self._parts: list[bytes] | None = None
        self._parts_size = 0
        self._parts_text = False

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        # Per frame: park it and wake the reader (only the first frame finds it waiting).
        # The reader counts and bounds the backlog: here each attribute costs per frame.
        if frame.msg_type is _TEXT and frame.fin and self._parts is None:
            self.frames.append(frame.get_payload_as_bytes())
        else:
            self._unusual(transport, frame, frame.msg_type)
        if self.waiter is not None:
            self.wake()

    def _unusual(self, transport: WSTransport, frame: WSFrame, kind: WSMsgType) -> None:
        if kind is _PING:
            self.pings.append(frame.get_payload_as_bytes())
        elif kind is _PONG:
            self.pongs += 1
        elif kind is _CLOSE:
            self.close_code = int(frame.get_close_code().value)
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()
        elif kind is _TEXT or kind is _BINARY:
            if self._parts is not None:
                raise picows.WSProtocolError(
                    WSCloseCode.PROTOCOL_ERROR, "a new message began inside a fragmented one"
                )
            self._parts, self._parts_size = [], 0
            self._parts_text = kind is _TEXT
            self._add_part(transport, frame)
        elif kind is _CONTINUATION:
            if self._parts is None:
                raise picows.WSProtocolError(
                    WSCloseCode.PROTOCOL_ERROR, "a continuation frame without a message"
                )
            self._add_part(transport, frame)

    def _add_part(self, transport: WSTransport, frame: WSFrame) -> None:
        # Only text is kept; a binary message's size is still bounded like aiohttp's.
        assert self._parts is not None
        self._parts_size += frame.payload_size
        if self._parts_size > MAX_MESSAGE:
            raise picows.WSProtocolError(
                WSCloseCode.MESSAGE_TOO_BIG, f"a message larger than {MAX_MESSAGE} bytes"
            )
        if self._parts_text:
            self._parts.append(frame.get_payload_as_bytes())
        if frame.fin:
            parts, self._parts = self._parts, None
            if self._parts_text:
                self.frames.append(b"".join(parts))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.ended = True
        self.wake()


def _new_listener(
    request: picows.WSUpgradeRequest, response: picows.WSUpgradeResponse
) -> _Listener:
    return _Listener()


class _Backlog:
    """Frames the reader has taken from the listener and not yet handed on, oldest first,
    in batches with their sizes, and the socket's flow control: above either high mark
    reading pauses, and it resumes once the backlog is down to a quarter of both.

    The reader takes the listener's frames at each of its steps, and the loop runs a
    step of the woken reader before the socket's next read: the backlog passes a high
    mark by one read at most. A taken list is cut into batches once, as it is taken,
    and each batch's size is counted then, once: the protocol is handed that count
    rather than summing the batch again.
    """

    __slots__ = ("_batches", "_paused", "_socket", "frames", "size")

    def __init__(self, socket: asyncio.Transport) -> None:
        self._socket = socket
        self._batches: deque[tuple[list[bytes], int]] = deque()
        self._paused = False
        self.frames = 0
        self.size = 0  # bytes

    def add(self, frames: list[bytes], most: int) -> None:
        """Take ``frames``, in batches of at most ``most``."""
        if not frames:
            return  # an empty batch would read as an empty backlog in ``batch``
        count = len(frames)
        # The usual take fits one batch: kept as it is, not copied.
        parts = [frames] if count <= most else [frames[i : i + most] for i in range(0, count, most)]
        for part in parts:
            part_size = size_of(part)
            self._batches.append((part, part_size))
            self.size += part_size
        self.frames += count
        if not self._paused and (self.frames > _HIGH_FRAMES or self.size > _HIGH_BYTES):
            self._paused = True
            self._socket.pause_reading()

    def batch(self, most: int) -> tuple[list[bytes], int]:
        """The oldest ``most`` frames at most and their bytes (``([], 0)``: none wait)."""
        if not self._batches:
            return [], 0
        frames, size = self._batches[0]
        if len(frames) <= most:
            self._batches.popleft()
            return frames, size
        # Batches shrank since this one was cut (a consumer with a smaller buffer came).
        head, tail = frames[:most], frames[most:]
        head_size = size_of(head)
        self._batches[0] = (tail, size - head_size)
        return head, head_size

    def rest(self) -> tuple[list[bytes], int]:
        """Every frame not handed on yet and their bytes, which leaves the backlog empty."""
        rest = [frame for frames, _ in self._batches for frame in frames]
        size = sum(size for _, size in self._batches)
        self._batches.clear()
        return rest, size

    def handed_on(self, frames: int, size: int) -> None:
        self.frames -= frames
        self.size -= size
        if self._paused and self.frames <= _HIGH_FRAMES // 4 and self.size <= _HIGH_BYTES // 4:
            self._paused = False
            if not self._socket.is_closing():
                self._socket.resume_reading()


class PicowsSocket:
    """One open picows WebSocket."""

    def __init__(self, transport: WSTransport, listener: _Listener) -> None:
        self._transport = transport
        self._listener = listener

    @property
    def close_code(self) -> int | None:
        if self._listener.close_code is not None:
            return self._listener.close_code
        # picows itself closed it (a frame too large, a protocol violation): the code it sent.
        handshake = self._transport.close_handshake
        if handshake is not None and handshake.sent is not None:
            return int(handshake.sent.code.value)
        return None

    async def read(
        self,
        protocol: StreamProtocol,
        execute: Execute,
        wall: Callable[[], datetime],
        answer_ping: Callable[[bytes], None],
    ) -> None:
        """Hand every frame to ``protocol`` until the socket ends."""
        listener = self._listener
        backlog = _Backlog(self._transport.underlying_transport)
        counters = protocol.counters
        routes = protocol.quotes
        receive, take_actions = protocol.receive_frames, protocol.take_actions
        loop = asyncio.get_running_loop()

        def hand_on(batch: list[bytes], size: int) -> None:
            receive(batch, wall(), size)
            backlog.handed_on(len(batch), size)
            actions = take_actions()
            if actions:
                execute(actions)

        try:
            while True:
                if listener.pongs:
                    counters.pongs += listener.pongs
                    listener.pongs = 0
                if listener.pings:
                    for payload in listener.pings:
                        answer_ping(payload)
                    listener.pings.clear()
                if listener.frames:
                    frames, listener.frames = listener.frames, []
                    backlog.add(frames, routes.flush_every)
                batch, size = backlog.batch(routes.flush_every)
                if batch:
                    hand_on(batch, size)
                    if backlog.frames or listener.frames:
                        await asyncio.sleep(0)  # the consumers it woke run first
                    continue
                if listener.ended:
                    return
                waiter = listener.waiter = loop.create_future()
                await waiter
        finally:
            listener.waiter = None
            # Cancelled (a dead socket): what did arrive still counts.
            frames, listener.frames = listener.frames, []
            backlog.add(frames, routes.flush_every)
            rest, size = backlog.rest()
            if rest:
                hand_on(rest, size)

    async def send_text(self, frame: bytes) -> None:
        self._check()
        self._transport.send(_TEXT, frame)

    async def ping(self) -> None:
        self._check()
        self._transport.send_ping()

    async def pong(self, payload: bytes) -> None:
        self._check()
        self._transport.send_pong(payload)

    def _check(self) -> None:
        # picows drops a frame sent after the end silently; the writer wants to know.
        if self._transport.is_disconnected or self._transport.is_close_frame_sent:
            raise ConnectionError("the socket is closed")

    async def close(self) -> None:
        transport = self._transport
        if not transport.is_disconnected:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()
        try:
            await transport.wait_disconnected()
        except Exception as exc:  # the failure that ended it; the socket is gone either way
            _LOG.debug("the socket ended with %s", type(exc).__name__)
