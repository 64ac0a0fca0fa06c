"""One stream socket over aiohttp: connect, read, write, tick, reconnect.

This is the thin I/O layer under ``StreamProtocol``: it does what the
protocol decides and tells it what happened. One supervisor task (in the
session's task group) connects with the stream's ``Backoff`` (a refused key
is fatal; everything else is retried, ``max_reconnects`` bounds a run of
failures), then runs three tasks until the socket ends: the reader, the
writer, and the liveness ticker. Then it starts over.

The reader parks frames and hands them to the protocol per batch: a batch is
what arrived since the reader last yielded, flushed when it blocks on the
socket or, in a burst, every ``protocol.quotes.flush_every`` frames, right before
yielding, so the consumers it wakes run before it reads on.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import logging
import random
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import aiohttp
import anyio

from .._clock import Clock
from .._config import StreamPolicy
from .._core.actions import Action
from .._core.dialect import StreamEndpoint
from .._core.stream import StreamProtocol
from .._exceptions import (
    AuthenticationError,
    ConnectionFailedError,
    FxSocketError,
    PermissionDeniedError,
    TimeoutError,
)

__all__ = ["WebSocketConnection"]

log = logging.getLogger("fxsocket_async.stream")

_TEXT: Final = aiohttp.WSMsgType.TEXT
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
_MAX_FRAME: Final = 16 * 1024 * 1024
_CLOSE_TIMEOUT: Final = 1.0

Execute = Callable[[list[Action]], None]


class WebSocketConnection:
    """The socket of one ``StreamProtocol``, kept open for as long as the session runs."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        protocol: StreamProtocol,
        endpoint: StreamEndpoint,
        *,
        policy: StreamPolicy,
        clock: Clock,
        execute: Execute,
    ) -> None:
        self._http = http
        self._protocol = protocol
        self._endpoint = endpoint
        self._policy = policy
        self._clock = clock
        self._execute = execute
        self._rng = random.Random()
        self._outgoing: deque[bytes | None] = deque()  # None: a WebSocket ping frame
        self._wake_writer = anyio.Event()
        self._scope: anyio.CancelScope | None = None
        #: Set while the socket is open, or once the stream has failed for good.
        self.up = anyio.Event()

    def __repr__(self) -> str:
        return f"WebSocketConnection({self._endpoint.shown!r})"

    # -------------------------------------------------------- what the stream asks

    def send(self, frame: bytes | None) -> None:
        """Queue a text frame (``None``: a ping frame) for the writer of the open socket."""
        if self._scope is not None:
            self._outgoing.append(frame)
            self._wake_writer.set()

    def kill(self, reason: str) -> None:
        """The protocol found the socket dead: close it and reconnect."""
        if self._scope is not None:
            log.warning("stream %s: %s; treating it as dead", self._endpoint.shown, reason)
            self._scope.cancel()

    # ---------------------------------------------------------------- supervisor

    async def run(self) -> None:
        """Connect, serve, reconnect, until the session ends or the stream fails for good."""
        delays = self._policy.reconnect_backoff.delays(self._rng)
        failures = 0
        while True:
            try:
                ws = await self._handshake()
            except (AuthenticationError, PermissionDeniedError) as exc:
                self._fail(exc)
                return
            except (ConnectionFailedError, TimeoutError) as exc:
                failures += 1
                limit = self._policy.max_reconnects
                if limit is not None and failures >= limit:
                    self._fail(exc)
                    return
                delay = next(delays)
                log.warning("stream connection failed (%s); retrying in %.2f s", exc, delay)
                await self._clock.sleep(delay)
                continue
            failures = 0
            delays = self._policy.reconnect_backoff.delays(self._rng)
            await self._serve(ws)
            log.warning("stream connection to %s lost; reconnecting", self._endpoint.shown)

    def _fail(self, error: FxSocketError) -> None:
        log.error("the stream cannot be opened: %s", error)
        self._protocol.failed(error)
        self._execute(self._protocol.take_actions())
        self.up.set()  # wake every waiter: they raise the protocol's fatal error

    async def _handshake(self) -> aiohttp.ClientWebSocketResponse:
        endpoint = self._endpoint
        try:
            ws: aiohttp.ClientWebSocketResponse = await self._http.ws_connect(
                endpoint.url,
                headers=endpoint.headers,
                autoping=True,
                heartbeat=None,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_TIMEOUT),
                max_msg_size=_MAX_FRAME,
                **_WS_OPTIONS,
            )
            return ws
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise AuthenticationError(
                    "the stream refused the API key (401)", status=401, code="unauthorized"
                ) from None
            if exc.status == 403:
                raise PermissionDeniedError(
                    "the stream refused this key (403)", status=403, code="forbidden"
                ) from None
            raise ConnectionFailedError(
                f"stream handshake answered {exc.status}", code=f"handshake_{exc.status}"
            ) from None
        except (builtins.TimeoutError, aiohttp.ServerTimeoutError):
            raise TimeoutError("the stream handshake timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionFailedError(f"stream connection failed: {exc}") from None

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        protocol, clock = self._protocol, self._clock
        self._outgoing.clear()
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                protocol.connection_made(clock.wall(), clock.monotonic())
                self._execute(protocol.take_actions())
                self.up.set()
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._write, ws)
                    tasks.start_soon(self._tick)
                    await self._read(ws)
                    tasks.cancel_scope.cancel()
        finally:
            self._scope = None
            self.up = anyio.Event()
            protocol.connection_lost(clock.wall())
            self._execute(protocol.take_actions())
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_TIMEOUT):
                await ws.close()

    # ------------------------------------------------------------ the three tasks

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        receive = ws.receive
        pending: list[Any] = []
        park = pending.append
        schedule = asyncio.get_running_loop().call_soon
        protocol = self._protocol
        execute = self._execute
        wall = self._clock.wall

        def flush() -> None:
            if pending:
                protocol.receive_frames(pending, wall())
                pending.clear()
                actions = protocol.take_actions()
                if actions:
                    execute(actions)

        every = protocol.quotes.flush_every
        try:
            while True:
                msg = await receive()
                if msg.type is not _TEXT:
                    if msg.type in _ENDED:
                        return
                    continue  # binary frames are not part of the protocol
                parked = len(pending)
                if not parked:
                    schedule(flush)
                elif parked >= every:
                    flush()
                    await asyncio.sleep(0)
                    every = protocol.quotes.flush_every
                    schedule(flush)
                park(msg.data)
        finally:
            flush()

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        outgoing = self._outgoing
        while True:
            while outgoing:
                frame = outgoing.popleft()
                try:
                    if frame is None:
                        await ws.ping()
                    else:
                        await ws.send_frame(frame, _TEXT)
                except (ConnectionError, aiohttp.ClientError, RuntimeError):
                    return  # the reader sees the socket end and the supervisor reconnects
            self._wake_writer = anyio.Event()
            await self._wake_writer.wait()

    async def _tick(self) -> None:
        policy, protocol, clock = self._policy, self._protocol, self._clock
        while True:
            await clock.sleep(policy.liveness_tick)
            protocol.tick(clock.monotonic(), market_open=policy.market_open(clock.wall()))
            actions = protocol.take_actions()
            if actions:
                self._execute(actions)
