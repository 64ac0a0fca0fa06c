"""The simulator's WebSocket side: connections, subscriptions and fan-out.

Each connection has a bounded outgoing queue drained by its own writer task,
so one slow reader never stalls the market or the other connections; a reader
that lets 10,000 frames pile up is closed with 1013, as a server protecting
itself would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from .._core.codec import encode
from .._core.events import (
    ErrorEvent,
    Ping,
    Pong,
    QuoteEvent,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
)
from .._core.models import CHANNELS, Quote
from ._config import ApiKey
from ._engine import Engine
from ._protocol import MessageError, decode_client_message

__all__ = ["Connection", "StreamHub"]

log = logging.getLogger("fxsocket_async.simulator")

OUTGOING_LIMIT = 10_000
_TEXT = WSMsgType.TEXT


@dataclass(eq=False)
class Connection:
    """One client WebSocket and what it subscribed to."""

    ws: web.WebSocketResponse
    request: web.Request
    api_key: ApiKey = field(repr=False)
    outgoing: asyncio.Queue[bytes] = field(
        default_factory=lambda: asyncio.Queue(maxsize=OUTGOING_LIMIT)
    )
    # (account_id, channel) -> symbols (quotes only; empty for other channels)
    subscriptions: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    overflowed: bool = False

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class StreamHub:
    """Routes published frames to the connections subscribed to them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connections: set[Connection] = set()
        self._channel_subs: dict[tuple[str, str], set[Connection]] = defaultdict(set)
        # symbol -> account_id -> connections
        self._quote_subs: dict[str, dict[str, set[Connection]]] = defaultdict(
            lambda: defaultdict(set)
        )
        # muted: quotes and events are dropped; frozen: nothing at all is sent.
        self.muted = False
        self.frozen = False
        # Set, then replaced, on every change: a waiter re-checks and waits on the new one.
        self.connection_changed = asyncio.Event()
        self.subscription_changed = asyncio.Event()

    # ---------------------------------------------------------------- sending

    def _send(self, conn: Connection, frame: bytes, *, data: bool = True) -> None:
        if self.frozen or (data and self.muted) or conn.overflowed:
            return
        try:
            conn.outgoing.put_nowait(frame)
        except asyncio.QueueFull:
            conn.overflowed = True
            log.warning("closing a WebSocket whose reader fell %d frames behind", OUTGOING_LIMIT)

    def publish(self, account_id: str, channel: str, frame: bytes) -> None:
        """Send a per-account event to every connection subscribed to it."""
        for conn in self._channel_subs.get((account_id, channel), ()):
            self._send(conn, frame)

    def publish_quotes(self, quotes: Iterable[Quote]) -> None:
        for quote in quotes:
            by_account = self._quote_subs.get(quote.symbol)
            if not by_account:
                continue
            data = Quote(symbol=quote.symbol, bid=quote.bid, ask=quote.ask, time=quote.time)
            for account_id, conns in by_account.items():
                frame = encode(QuoteEvent(account_id=account_id, data=data))
                for conn in conns:
                    self._send(conn, frame)

    def send_raw(self, text: str) -> None:
        frame = text.encode()
        for conn in self.connections:
            self._send(conn, frame, data=False)

    def drop_connections(self) -> None:
        for conn in list(self.connections):
            conn.abort()

    def subscriptions(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """Every (account_id, channel, symbols) some connection of this stream holds, sorted."""
        held = {
            (account_id, channel, tuple(sorted(symbols)))
            for conn in self.connections
            for (account_id, channel), symbols in conn.subscriptions.items()
        }
        return sorted(held)

    def forget_account(self, account_id: str) -> None:
        for conn in self.connections:
            for channel in CHANNELS:
                self._remove(conn, account_id, channel, None)

    # ----------------------------------------------------------- connections

    async def serve(self, request: web.Request, api_key: ApiKey) -> web.WebSocketResponse:
        # autoping off: a frozen stream must be able to leave protocol pings unanswered.
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = Connection(ws=ws, request=request, api_key=api_key)
        self.connections.add(conn)
        self._changed()
        writer = asyncio.get_running_loop().create_task(self._write(conn))
        try:
            await self._read(conn)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._disconnect(conn)
            if not ws.closed:
                await ws.close()
        return ws

    async def _read(self, conn: Connection) -> None:
        async for msg in conn.ws:
            if msg.type == WSMsgType.TEXT:
                self._handle(conn, msg.data)
            elif msg.type == WSMsgType.PING:
                if not self.frozen:
                    await conn.ws.pong(msg.data)
            elif msg.type == WSMsgType.BINARY:
                self._reply(
                    conn, ErrorEvent(error="invalid_message", message="send JSON text frames")
                )

    async def _write(self, conn: Connection) -> None:
        ws = conn.ws
        while True:
            frame = await conn.outgoing.get()
            if conn.overflowed:
                await ws.close(code=1013, message=b"client too slow")
                return
            try:
                await ws.send_frame(frame, _TEXT)
            except ConnectionError:
                return

    def _disconnect(self, conn: Connection) -> None:
        for account_id, channel in list(conn.subscriptions):
            self._remove(conn, account_id, channel, None)
        self.connections.discard(conn)
        self._changed()

    def _changed(self) -> None:
        self.connection_changed.set()
        self.connection_changed = asyncio.Event()

    def touch_connections(self) -> None:
        """Wake the waiters on ``connection_changed`` (a terminal socket came or went)."""
        self._changed()

    def touch_subscriptions(self) -> None:
        """Wake the waiters on ``subscription_changed`` (the terminal side changed)."""
        self._subscriptions_changed()

    def _subscriptions_changed(self) -> None:
        self.subscription_changed.set()
        self.subscription_changed = asyncio.Event()

    # -------------------------------------------------------------- messages

    def _reply(self, conn: Connection, message: msgspec.Struct) -> None:
        self._send(conn, encode(message), data=False)

    def _handle(self, conn: Connection, text: str) -> None:
        try:
            message = decode_client_message(text)
        except MessageError as exc:
            self._reply(
                conn, ErrorEvent(error="invalid_message", message=str(exc), id=_request_id(text))
            )
            return
        match message:
            case Ping(id=request_id):
                self._reply(conn, Pong(id=request_id))
            case Subscribe():
                self._subscribe(conn, message)
            case Unsubscribe():
                self._unsubscribe(conn, message)

    def _refuse(self, conn: Connection, request_id: int, code: str, text: str) -> None:
        self._reply(conn, ErrorEvent(error=code, message=text, id=request_id))

    def _subscribe(self, conn: Connection, msg: Subscribe) -> None:
        if msg.channel not in CHANNELS:
            self._refuse(
                conn,
                msg.id,
                "invalid_channel",
                f"unknown channel {msg.channel!r}; use one of {', '.join(CHANNELS)}",
            )
            return
        if self.engine.owner_of(msg.account_id) != conn.api_key.owner:
            self._refuse(conn, msg.id, "not_found", f"no account {msg.account_id!r} for this key")
            return
        symbols = set(msg.symbols or ())
        if msg.channel == "quotes":
            if not symbols:
                self._refuse(
                    conn, msg.id, "symbols_required", "a quotes subscription needs symbols"
                )
                return
            unknown = sorted(symbols - self.engine.market.specs.keys())
            if unknown:
                self._refuse(
                    conn, msg.id, "invalid_symbol", f"unknown symbols: {', '.join(unknown)}"
                )
                return
            account = self.engine.account(conn.api_key.owner, msg.account_id)
            if account.status != "connected":
                self._refuse(
                    conn,
                    msg.id,
                    "terminal_not_ready",
                    f"account {account.id} is {account.status}; quotes need a connected terminal",
                )
                return
        key = (msg.account_id, msg.channel)
        conn.subscriptions.setdefault(key, set()).update(symbols)
        if msg.channel == "quotes":
            for symbol in symbols:
                self._quote_subs[symbol][msg.account_id].add(conn)
        else:
            self._channel_subs[key].add(conn)
        self._subscriptions_changed()
        self._reply(
            conn,
            Subscribed(
                id=msg.id,
                channel=msg.channel,
                account_id=msg.account_id,
                symbols=sorted(conn.subscriptions[key]) if msg.channel == "quotes" else None,
            ),
        )

    def _unsubscribe(self, conn: Connection, msg: Unsubscribe) -> None:
        self._remove(conn, msg.account_id, msg.channel, msg.symbols)
        self._reply(
            conn,
            Unsubscribed(
                id=msg.id, channel=msg.channel, account_id=msg.account_id, symbols=msg.symbols
            ),
        )

    def _remove(
        self, conn: Connection, account_id: str, channel: str, symbols: list[str] | None
    ) -> None:
        key = (account_id, channel)
        held = conn.subscriptions.get(key)
        if held is None:
            return
        dropped = set(held) if symbols is None else held & set(symbols)
        held -= dropped
        for symbol in dropped:
            by_account = self._quote_subs.get(symbol, {})
            by_account.get(account_id, set()).discard(conn)
            if not by_account.get(account_id, True):
                del by_account[account_id]
        if channel != "quotes" or not held:
            del conn.subscriptions[key]
            subs = self._channel_subs.get(key)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self._channel_subs[key]
        self._subscriptions_changed()


def _request_id(text: str) -> int | None:
    try:
        raw: Any = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
