"""One stream socket: connect, read, write, tick, reconnect.

This is the thin I/O layer under ``StreamProtocol``: it does what the
protocol decides and tells it what happened. One supervisor task (in the
session's task group) connects with the stream's ``Backoff`` (a refused key
is fatal; everything else is retried, ``max_reconnects`` bounds a run of
failures), then runs three tasks until the socket ends: the reader, the
writer, and the liveness ticker. Then it starts over.

The WebSocket client under it is the session's ``StreamTransport``
(transport.py): aiohttp by default, picows with ``StreamPolicy(transport=...)``.
Its socket's reader hands frames to the protocol in batches (see there).
"""

from __future__ import annotations

import builtins
import logging
import random
from collections import deque
from datetime import timedelta

import anyio

from .._clock import Clock
from .._config import StreamPolicy
from .._core.dialect import StreamEndpoint
from .._core.stream import StreamProtocol
from .._exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    FxSocketError,
    PermissionDeniedError,
    SubscriptionRefusedError,
    TimeoutError,
)
from .state import ConnectionStatus
from .transport import CLOSE_TIMEOUT, Execute, StreamSocket, StreamTransport

__all__ = ["WebSocketConnection"]

log = logging.getLogger("fxsocket_async.stream")


class _Pong(bytes):
    """The payload of a pong frame to send (the server's ping is answered by the writer)."""


class WebSocketConnection:
    """The socket of one ``StreamProtocol``, kept open for as long as the session runs."""

    def __init__(
        self,
        transport: StreamTransport,
        protocol: StreamProtocol,
        endpoint: StreamEndpoint,
        *,
        policy: StreamPolicy,
        connect_timeout: float,
        clock: Clock,
        execute: Execute,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._endpoint = endpoint
        self._policy = policy
        self._clock = clock
        self._execute = execute
        self._rng = random.Random()
        # None: a WebSocket ping frame; a Pong: the answer to the server's ping.
        self._outgoing: deque[bytes | _Pong | None] = deque()
        self._wake_writer = anyio.Event()
        self._connect_timeout = connect_timeout
        self._scope: anyio.CancelScope | None = None
        self._ended = ""
        #: Set while the socket is open, or once the stream has failed.
        self.up = anyio.Event()
        self.status = ConnectionStatus(clock)
        self.ever_connected = False
        #: Why the first connection could not be made (until one is).
        self.first_failure: FxSocketError | None = None

    def __repr__(self) -> str:
        return f"WebSocketConnection({self._endpoint.shown!r}, transport={self.transport!r})"

    @property
    def transport(self) -> str:
        """Which WebSocket client carries this socket: ``"aiohttp"`` or ``"picows"``."""
        return self._transport.name

    # -------------------------------------------------------- what the stream asks

    def send(self, frame: bytes | _Pong | None) -> None:
        """Queue a text frame (``None``: a ping frame) for the writer of the open socket."""
        if self._scope is not None:
            self._outgoing.append(frame)
            self._wake_writer.set()

    def kill(self, reason: str) -> None:
        """The protocol found the socket dead: close it and reconnect."""
        if self._scope is not None:
            log.warning("stream %s: %s; treating it as dead", self._endpoint.shown, reason)
            self._ended = reason
            self._scope.cancel()

    # ---------------------------------------------------------------- supervisor

    async def run(self) -> None:
        """Connect, serve, reconnect, until the session ends or the stream fails.

        Before the first connection is made, a failure goes to whoever waits
        for it (``first_failure``) and the supervisor stops; the next
        consumer starts it again. After one, it reconnects as the policy says.
        """
        delays = self._policy.reconnect_backoff.delays(self._rng)
        failures = 0
        status = self.status
        status.set("reconnecting" if self.ever_connected else "connecting", attempt=1)
        while True:
            try:
                ws = await self._handshake()
            except (
                AuthenticationError,
                PermissionDeniedError,
                ConfigurationError,
                SubscriptionRefusedError,
            ) as exc:
                self.fail(exc)
                return
            except (ConnectionFailedError, TimeoutError) as exc:
                if not self.ever_connected:
                    self._first_failed(exc)
                    return
                failures += 1
                limit = self._policy.max_reconnects
                if limit is not None and failures >= limit:
                    self.fail(exc)
                    return
                delay = next(delays)
                log.warning(
                    "stream %s: reconnect %d failed (%s); retrying in %.2f s",
                    self._endpoint.shown,
                    failures,
                    exc.message,
                    delay,
                )
                at = self._clock.wall() + timedelta(seconds=delay)
                status.set(
                    "reconnecting", reason=exc.message, attempt=failures + 1, next_attempt_at=at
                )
                await self._clock.sleep(delay)
                continue
            failures = 0
            delays = self._policy.reconnect_backoff.delays(self._rng)
            self.ever_connected = True
            reason = await self._serve(ws)
            log.warning("stream %s lost (%s); reconnecting", self._endpoint.shown, reason)
            status.set("reconnecting", reason=reason, attempt=1, next_attempt_at=self._clock.wall())

    def fail(self, error: FxSocketError) -> None:
        """End the stream for good with ``error``: every consumer and waiter gets it."""
        log.error("the stream cannot be opened: %s", error)
        self._protocol.failed(error)
        self._execute(self._protocol.take_actions())
        self.status.set("failed", reason=error.message, error=error)
        self.up.set()  # wake every waiter: they raise the protocol's fatal error

    def _first_failed(self, error: FxSocketError) -> None:
        log.warning("the stream at %s could not be opened: %s", self._endpoint.shown, error)
        self.first_failure = error
        self._protocol.first_connect_failed(error)
        self._execute(self._protocol.take_actions())
        self.status.set("failed", reason=error.message, error=error)
        self.up.set()
        self.up = anyio.Event()

    async def _handshake(self) -> StreamSocket:
        """Open the socket within the connect timeout.

        Raises ``AuthenticationError`` / ``PermissionDeniedError`` (the key
        was refused), ``ConfigurationError`` (the URL is wrong: 400/404),
        ``ConnectionFailedError`` or ``TimeoutError``, each naming the URL.
        """
        timeout = self._connect_timeout
        try:
            with self._clock.fail_after(timeout):
                return await self._transport.open(
                    self._endpoint, scope=self._protocol.dialect.scope, timeout=timeout
                )
        except FxSocketError:
            raise  # the transport's, already ours (even a TimeoutError)
        except builtins.TimeoutError:
            pass  # ours is raised below, outside the handler: no foreign __context__
        raise TimeoutError(
            f"opening the stream at {self._endpoint.shown} took more than {timeout:g} s"
        )

    async def _serve(self, ws: StreamSocket) -> str:
        """Run an open socket until it ends; return why it ended."""
        protocol, clock = self._protocol, self._clock
        self._outgoing.clear()
        self._ended = "the server closed it"
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                protocol.connection_made(clock.wall(), clock.monotonic())
                self._execute(protocol.take_actions())
                self.status.set("live")
                self.first_failure = None
                self.up.set()
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._write, ws)
                    tasks.start_soon(self._tick)
                    await self._read(ws)
                    tasks.cancel_scope.cancel()
            if ws.close_code is not None and self._ended == "the server closed it":
                self._ended = f"the server closed it (code {ws.close_code})"
            return self._ended
        finally:
            self._scope = None
            self.up = anyio.Event()
            protocol.connection_lost(clock.wall())
            self._execute(protocol.take_actions())
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
                await ws.close()

    # ------------------------------------------------------------ the three tasks

    async def _read(self, ws: StreamSocket) -> None:
        await ws.read(self._protocol, self._execute, self._clock.wall, self._answer_ping)

    def _answer_ping(self, payload: bytes) -> None:
        self.send(_Pong(payload))

    async def _write(self, ws: StreamSocket) -> None:
        outgoing = self._outgoing
        while True:
            while outgoing:
                frame = outgoing.popleft()
                try:
                    if frame is None:
                        await ws.ping()
                    elif type(frame) is _Pong:
                        await ws.pong(frame)
                    else:
                        await ws.send_text(frame)
                except ConnectionError:
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
