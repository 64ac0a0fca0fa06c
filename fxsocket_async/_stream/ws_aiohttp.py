"""The stream's default WebSocket client: aiohttp, over the session's HTTP pool.

The reader parks frames and hands them to the protocol per batch: a batch is
what arrived since the reader last yielded, flushed when it blocks on the
socket or, in a burst, every ``protocol.quotes.flush_every`` frames, right
before yielding, so the consumers it wakes run before it reads on.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
from collections.abc import Callable
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from .._exceptions import FxSocketError, TimeoutError
from .transport import CLOSE_TIMEOUT, MAX_MESSAGE, Execute, refused, unreachable

if TYPE_CHECKING:
    from .._core.dialect import StreamEndpoint
    from .._core.stream import StreamProtocol

__all__ = ["AiohttpSocket", "AiohttpTransport"]

_TEXT: Final = aiohttp.WSMsgType.TEXT
_PING: Final = aiohttp.WSMsgType.PING
_PONG: Final = aiohttp.WSMsgType.PONG
_ENDED: Final = frozenset(
    {
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSING,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    }
)
_WS_OPTIONS: dict[str, Any] = (
    {"decode_text": False}
    if "decode_text" in inspect.signature(aiohttp.ClientSession.ws_connect).parameters
    else {}
)
_GONE: Final = (ConnectionError, aiohttp.ClientError, RuntimeError)


class _NoSuchMessage(tuple[Any, ...]):
    """Stands for ``WSMessageTextBytes`` where aiohttp has none: no message is one."""


try:
    # With ``decode_text=False`` a text message is one of these, and nothing else is.
    from aiohttp.http import WSMessageTextBytes as _TEXT_BYTES
except ImportError:  # an aiohttp without decode_text (< 3.13): text comes as ``str``
    _TEXT_BYTES = _NoSuchMessage  # type: ignore[assignment,misc]


class AiohttpTransport:
    """Stream sockets from the session's ``aiohttp.ClientSession`` (its TLS setting too)."""

    name = "aiohttp"

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self._http = http

    def __repr__(self) -> str:
        return "AiohttpTransport()"

    async def open(self, endpoint: StreamEndpoint, *, scope: str, timeout: float) -> AiohttpSocket:
        """Open the socket (see ``StreamTransport.open``: our exceptions only)."""
        error: FxSocketError
        try:
            ws = await self._http.ws_connect(
                endpoint.url,
                headers=endpoint.headers,
                # Pings are answered by the stream's writer and pongs counted: a
                # dialect without application pings is kept alive by them.
                autoping=False,
                heartbeat=None,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT),
                max_msg_size=MAX_MESSAGE,
                **_WS_OPTIONS,
            )
            return AiohttpSocket(ws)
        except aiohttp.WSServerHandshakeError as exc:
            error = refused(exc.status, endpoint.shown, scope)
        except (builtins.TimeoutError, aiohttp.ServerTimeoutError):
            error = TimeoutError(
                f"opening the stream at {endpoint.shown} took more than {timeout:g} s"
            )
        except (aiohttp.ClientError, OSError) as exc:
            error = unreachable(endpoint.shown, exc)
        # Raised here, outside the handler: aiohttp's error (whose request
        # headers hold the key) must not ride along as __context__.
        raise error


class AiohttpSocket:
    """One open aiohttp WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code

    async def read(
        self,
        protocol: StreamProtocol,
        execute: Execute,
        wall: Callable[[], datetime],
        answer_ping: Callable[[bytes], None],
    ) -> None:
        """Hand every frame to ``protocol`` until the socket ends."""
        receive = self._ws.receive
        pending: list[Any] = []
        schedule = asyncio.get_running_loop().call_soon
        text, text_bytes = _TEXT, _TEXT_BYTES

        def flush() -> None:
            if pending:
                protocol.receive_frames(pending, wall())
                pending.clear()
                actions = protocol.take_actions()
                if actions:
                    execute(actions)

        try:
            while True:
                # One burst: at most flush_every frames are read before the batch is
                # flushed and the reader yields. A message is told apart by its class
                # and its data read by index: a NamedTuple's attributes are descriptors
                # the interpreter does not specialise (an index on a tuple subclass is
                # not specialised either, but costs less), once per frame.
                for _ in repeat(None, protocol.quotes.flush_every):
                    message: Any = await receive()
                    if type(message) is not text_bytes:
                        kind, data = message[0], message[1]
                        if kind is text:  # decoded to str, by an aiohttp without decode_text
                            if not pending:
                                schedule(flush)
                            pending.append(data)
                        elif kind in _ENDED:
                            return
                        elif kind is _PING:
                            answer_ping(data or b"")
                        elif kind is _PONG:
                            protocol.counters.pongs += 1
                        continue  # binary frames are not part of the protocol
                    if not pending:
                        schedule(flush)
                    pending.append(message[1])
                flush()
                await asyncio.sleep(0)
        finally:
            flush()

    async def send_text(self, frame: bytes) -> None:
        try:
            await self._ws.send_frame(frame, _TEXT)
        except _GONE:
            raise ConnectionError("the socket is closed") from None

    async def ping(self) -> None:
        try:
            await self._ws.ping()
        except _GONE:
            raise ConnectionError("the socket is closed") from None

    async def pong(self, payload: bytes) -> None:
        try:
            await self._ws.pong(payload)
        except _GONE:
            raise ConnectionError("the socket is closed") from None

    async def close(self) -> None:
        await self._ws.close()
