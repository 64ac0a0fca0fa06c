"""The session's one WebSocket: connect, read, fan out, keep alive, reconnect, recover.

Layout of the work:

- one supervisor task (in the session's task group) connects with ``backoff``
  (401/403 are fatal; everything else is retried), replays every live
  subscription, then runs the reader and the liveness timer until the
  connection ends, and starts over;
- one reader decodes each frame once and hands it straight to the buffers
  subscribed to it (``_fanout``): quotes by account and symbol, per-account
  events through that account's ``OrderBook`` (``_recovery``) so that
  duplicates are dropped and ``seq`` gaps are seen;
- after a reconnect or a ``seq`` jump, a recovery task per affected account
  sends ``StreamGap`` to its events consumers, holds live events, rebuilds the
  missed order events from REST and delivers them flagged ``recovered``, then
  releases the held live events.

Server-side subscriptions are reference-counted: the subscribe goes out when
the first local consumer needs it, the unsubscribe when the last one leaves.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import inspect
import itertools
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp
import anyio
import backoff
import msgspec
from anyio.abc import TaskGroup

from .._config import StreamPolicy
from .._core.codec import encode
from .._core.events import (
    AccountStatusChanged,
    ClientMessage,
    ErrorEvent,
    Ping,
    Pong,
    QuoteEvent,
    StreamGap,
    Subscribe,
    Subscribed,
    UnknownEvent,
    Unsubscribe,
    Unsubscribed,
)
from .._core.models import Quote
from .._core.recovery import OrderBook, Snapshot, reconcile
from .._dialects.reference import EVENT_DECODER, decode_event, stream_headers
from .._exceptions import (
    AuthenticationError,
    ConnectionFailedError,
    FxSocketError,
    PermissionDeniedError,
    ProtocolError,
    SubscriptionRefusedError,
    TimeoutError,
)
from .fanout import EventBuffer, QuoteBuffer

__all__ = ["SnapshotFetcher", "StreamConnection", "StreamStats"]

log = logging.getLogger("fxsocket_async.stream")

#: Fetches the REST view of an account: ``(account_id, watermark, seeding)``.
SnapshotFetcher = Callable[[str, datetime | None, bool], Awaitable[Snapshot]]

_TEXT: Final = aiohttp.WSMsgType.TEXT
_ENDED: Final = frozenset(
    {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED}
)
_WS_OPTIONS: dict[str, Any] = (
    {"decode_text": False}
    if "decode_text" in inspect.signature(aiohttp.ClientSession.ws_connect).parameters
    else {}
)
_LIVENESS_TICK: Final = 1.0
#: The most frames the reader takes in a burst before it flushes and yields.
_YIELD_EVERY: Final = 512
_CLEANUP_TIMEOUT: Final = 1.0
_MALFORMED_LOG_EVERY: Final = 1000


def _subscribe(channel: str, account_id: str, request_id: int) -> Subscribe:
    return Subscribe(id=request_id, channel=channel, account_id=account_id)


class _Disconnected(Exception):
    """An ack will never come on this connection; send again on the next."""


class StreamStats(msgspec.Struct, frozen=True, kw_only=True):
    """The stream's counters, from ``fx.stats()["stream"]``."""

    connected: bool
    frames: int
    bytes: int
    decode_errors: int
    unknown_events: int
    reconnects: int
    gaps: int
    recovered_events: int
    conflated: int
    dropped: int
    buffer_depth: int
    consumers: int
    newest_quote_age: float | None


@dataclass(slots=True)
class _AccountStream:
    """Events consumers of one account, its book, and recovery state."""

    book: OrderBook
    consumers: list[EventBuffer] = field(default_factory=list)
    held: list[Any] | None = None  # live events held while recovering
    recovering: bool = False
    again: StreamGap | None = None  # a further gap met during recovery
    # No trustworthy seq to compare with (just seeded, or recovered with no
    # numbered live event): the next numbered event is checked against REST.
    unanchored: bool = False
    # A seq-jump gap is announced only once its recovery finds something.
    unannounced: StreamGap | None = None


class StreamConnection:
    """The WebSocket shared by every account and consumer of a session."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        url: str,
        api_key: str,
        policy: StreamPolicy,
        tasks: TaskGroup,
        fetch_snapshot: SnapshotFetcher,
    ) -> None:
        self._http = http
        self._url = url
        self._headers = stream_headers(api_key)
        self._policy = policy
        self._tasks = tasks
        self._fetch_snapshot = fetch_snapshot
        self._ids = itertools.count(1)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._up = anyio.Event()
        self._started = False
        self._fatal: FxSocketError | None = None
        self._acks: dict[int, Any] = {}  # request id -> asyncio future
        self._replays: dict[int, tuple[str, str]] = {}  # replayed subscribe -> what
        # account -> symbol -> buffers; and the server-side refcounts
        self._quote_routes: dict[str, dict[str, list[QuoteBuffer]]] = {}
        self._quote_refs: dict[str, Counter[str]] = defaultdict(Counter)
        # Subscribes whose own request is still in flight: the replay skips them.
        self._inflight_quotes: dict[str, Counter[str]] = defaultdict(Counter)
        self._inflight_events: Counter[str] = Counter()
        self._accounts: dict[str, _AccountStream] = {}
        self._down_since: datetime | None = None
        self._yield_every = _YIELD_EVERY
        self._pending: list[str | bytes] = []  # frames received, not yet routed
        # counters (frames and quotes are read by the liveness timer)
        self.frames = 0
        self.bytes = 0
        self.quote_frames = 0
        self.decode_errors = 0
        self.unknown_events = 0
        self.reconnects = 0
        self.gaps = 0
        self.recovered_events = 0
        self._retired = Counter[str]()  # conflated/dropped of consumers that left
        self._newest_quote_at: float | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Open the connection in the background (idempotent)."""
        if not self._started:
            self._started = True
            self._tasks.start_soon(self._supervise)

    async def wait_connected(self) -> None:
        """Open the connection if needed and wait until it is up.

        Raises the fatal error (``AuthenticationError``...) if the stream
        cannot be opened, or ``TimeoutError`` after ``subscribe_timeout``.
        """
        self.start()
        try:
            with anyio.fail_after(self._policy.subscribe_timeout):
                while not self._up.is_set():
                    self._raise_if_fatal()
                    await self._up.wait()
        except builtins.TimeoutError:
            raise TimeoutError(
                f"the stream was not connected within {self._policy.subscribe_timeout:g} s"
            ) from None
        self._raise_if_fatal()

    def _raise_if_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def close(self) -> None:
        """End every consumer (the session is closing)."""
        for buffer in self._buffers():
            buffer.close()

    async def _supervise(self) -> None:
        while True:
            try:
                ws = await self._connect()
            except FxSocketError as exc:
                self._fail_everything(exc)
                return
            was_down, self._down_since = self._down_since, None
            self._ws = ws
            try:
                async with anyio.create_task_group() as connection:
                    connection.start_soon(self._keep_alive, ws, connection.cancel_scope)
                    await self._replay()
                    self._up.set()
                    if was_down is not None:
                        self._on_reconnected(was_down)
                    await self._read(ws)
                    connection.cancel_scope.cancel()
            finally:
                self._ws = None
                self._up = anyio.Event()
                self._down_since = datetime.now(UTC)
                for future in self._acks.values():
                    if not future.done():
                        future.set_exception(_Disconnected())
                self._acks.clear()
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    await ws.close()
            self.reconnects += 1
            log.warning("stream connection lost; reconnecting")

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        policy = self._policy

        def giveup(error: Exception) -> bool:
            return isinstance(error, AuthenticationError | PermissionDeniedError)

        @backoff.on_exception(
            backoff.expo,
            (ConnectionFailedError, TimeoutError),
            max_tries=policy.max_reconnects,
            max_value=policy.reconnect_max,
            factor=policy.reconnect_initial,
            jitter=backoff.full_jitter,
            giveup=giveup,
            logger=None,
        )
        async def attempt() -> aiohttp.ClientWebSocketResponse:
            return await self._handshake()

        ws: aiohttp.ClientWebSocketResponse = await attempt()
        return ws

    async def _handshake(self) -> aiohttp.ClientWebSocketResponse:
        try:
            ws: aiohttp.ClientWebSocketResponse[Any] = await self._http.ws_connect(
                self._url,
                headers=self._headers,
                autoping=True,
                heartbeat=None,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=1.0),
                max_msg_size=16 * 1024 * 1024,
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

    def _fail_everything(self, error: FxSocketError) -> None:
        log.error("the stream cannot be opened: %s", error)
        self._fatal = error
        self._up.set()  # wake wait_connected, which raises
        for buffer in self._buffers():
            buffer.fail(error)

    # -------------------------------------------------------------- liveness

    async def _keep_alive(self, ws: aiohttp.ClientWebSocketResponse, scope: Any) -> None:
        """Pings, and the deadlines: no frame at all, or silent quotes while open."""
        policy = self._policy
        now = time.monotonic()
        frames_seen, quotes_seen = self.frames, self.quote_frames
        frames_at = quotes_at = last_ping = now
        while True:
            await anyio.sleep(_LIVENESS_TICK)
            now = time.monotonic()
            if self.frames != frames_seen:
                frames_seen, frames_at = self.frames, now
            if self.quote_frames != quotes_seen:
                quotes_seen, quotes_at = self.quote_frames, now
                self._newest_quote_at = now
            if not self._has_quote_consumers():
                quotes_at = now
            if now - last_ping >= policy.ping_interval:
                last_ping = now
                await self._send(ws, Ping(id=next(self._ids)))
            if now - frames_at > policy.dead_after:
                log.warning("stream silent for %.0f s; treating it as dead", now - frames_at)
                scope.cancel()
                return
            if (
                policy.quote_silence is not None
                and now - quotes_at > policy.quote_silence
                and policy.market_open(datetime.now(UTC))
            ):
                log.warning("quotes silent for %.0f s while the market is open", now - quotes_at)
                scope.cancel()
                return

    def _has_quote_consumers(self) -> bool:
        return any(self._quote_refs.values())

    # ---------------------------------------------------------------- reader

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Receive frames and park them; ``_flush`` decodes and routes them per batch.

        ``receive()`` returns without yielding while aiohttp has frames
        buffered, so a batch is what arrived since the reader last yielded: it
        is flushed when the reader blocks on the socket (the ``call_soon``) or,
        in a burst, every ``_yield_every`` frames, right before yielding, so
        that the consumers it wakes run before the reader reads on.
        """
        receive = ws.receive
        pending = self._pending
        park = pending.append
        schedule = asyncio.get_running_loop().call_soon
        flush = self._flush
        pause = asyncio.sleep
        every = self._yield_every
        try:
            while True:
                msg = await receive()
                if msg.type is not _TEXT:
                    if msg.type in _ENDED or msg.type is aiohttp.WSMsgType.ERROR:
                        return
                    continue  # binary frames are not part of the protocol
                parked = len(pending)
                if not parked:
                    schedule(flush)
                elif parked >= every:
                    flush()
                    await pause(0)
                    every = self._yield_every
                    schedule(flush)
                park(msg.data)
        finally:
            flush()

    def _flush(self) -> None:
        """Decode and route the parked frames: quotes in runs, other events one by one."""
        frames = self._pending
        if not frames:
            return
        self.frames += len(frames)
        self.bytes += sum(map(len, frames))
        decode = EVENT_DECODER.decode
        quote_event = QuoteEvent
        route = self._route_quotes
        run: list[Quote] = []
        extend = run.append
        run_account = run_symbol = ""
        others = 0
        for data in frames:
            try:
                event = decode(data)
            except msgspec.DecodeError:
                event = self._decode_slowly(data)
                if event is None:
                    others += 1
                    continue
            if type(event) is quote_event:
                quote = event.data
                if quote.symbol != run_symbol or event.account_id != run_account:
                    if run:
                        route(run_account, run_symbol, run)
                        run = []
                        extend = run.append
                    run_account, run_symbol = event.account_id, quote.symbol
                extend(quote)
            else:
                others += 1
                if run:
                    route(run_account, run_symbol, run)
                    run = []
                    extend = run.append
                self._dispatch(event)
        if run:
            route(run_account, run_symbol, run)
        self.quote_frames += len(frames) - others
        frames.clear()

    def _route_quotes(self, account_id: str, symbol: str, quotes: list[Quote]) -> None:
        by_symbol = self._quote_routes.get(account_id)
        if by_symbol is not None:
            for buffer in by_symbol.get(symbol, ()):
                buffer.push_many(quotes)

    def _decode_slowly(self, data: str | bytes) -> Any:
        try:
            return decode_event(data)
        except ProtocolError as exc:
            self.decode_errors += 1
            if self.decode_errors % _MALFORMED_LOG_EVERY == 1:
                log.warning("skipping a malformed stream frame (%d so far): %s",
                            self.decode_errors, exc.message)  # fmt: skip
            return None

    def _dispatch(self, event: Any) -> None:
        match event:
            case Subscribed(id=request_id) | Unsubscribed(id=request_id) | Pong(id=request_id):
                self._resolve(request_id, None)
            case ErrorEvent(id=request_id) if request_id in self._acks:
                self._resolve(request_id, SubscriptionRefusedError(event.message, code=event.error))
            case ErrorEvent(id=request_id) if request_id in self._replays:
                self._replay_refused(request_id, event)
            case ErrorEvent():
                log.warning("stream error from the server: %s %s", event.error, event.message)
            case UnknownEvent():
                self.unknown_events += 1
                self._deliver_unknown(event)
            case _:
                self._on_account_event(event)

    def _resolve(self, request_id: int | None, error: FxSocketError | None) -> None:
        future = self._acks.pop(request_id, None) if request_id is not None else None
        if future is not None and not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    def _deliver_unknown(self, event: UnknownEvent) -> None:
        account_id = event.raw.get("account_id")
        streams = (
            [self._accounts[account_id]]
            if isinstance(account_id, str) and account_id in self._accounts
            else list(self._accounts.values())
        )
        for stream in streams:
            for buffer in stream.consumers:
                if buffer.include_unknown:
                    buffer.push(event)

    # ---------------------------------------------------------- account events

    def _on_account_event(self, event: Any) -> None:
        stream = self._accounts.get(event.account_id)
        if stream is None:
            return
        if stream.held is not None:
            stream.held.append(event)
            return
        book = stream.book
        seq = event.seq
        if seq is not None:
            last = book.last_seq
            if last is not None and seq <= last and not stream.unanchored:
                return  # already seen (a replay)
            if stream.unanchored or (last is not None and seq > last + 1):
                # Events may have been missed: hold this one, check through REST.
                stream.unanchored = False
                stream.held = [event]
                now = datetime.now(UTC)
                gap = StreamGap(
                    accounts=(book.account_id,), started_at=now, ended_at=now,
                    duration=0.0, reason="seq_jump",
                )  # fmt: skip
                self._begin_recovery(stream, gap)
                return
            book.last_seq = seq
        self._deliver(stream, event)

    def _deliver(self, stream: _AccountStream, event: Any) -> None:
        if stream.book.apply(event):
            for buffer in stream.consumers:
                buffer.push(event)

    def on_status_change(self, change: AccountStatusChanged) -> None:
        """The account watcher's status changes join the events stream."""
        stream = self._accounts.get(change.account_id)
        if stream is None:
            return
        if stream.held is not None:
            stream.held.append(change)
        else:
            self._deliver(stream, change)

    def _on_reconnected(self, down_since: datetime) -> None:
        now = datetime.now(UTC)
        gap = StreamGap(
            accounts=tuple(self._accounts),
            started_at=down_since,
            ended_at=now,
            duration=(now - down_since).total_seconds(),
            reason="reconnect",
        )
        for stream in self._accounts.values():
            if stream.held is None:
                stream.held = []
            self._begin_recovery(stream, gap)

    def _begin_recovery(self, stream: _AccountStream, gap: StreamGap) -> None:
        account_gap = msgspec.structs.replace(gap, accounts=(stream.book.account_id,))
        if stream.recovering:
            stream.again = account_gap
            return
        stream.recovering = True
        self._announce(stream, account_gap)
        self._tasks.start_soon(self._recover, stream)

    def _announce(self, stream: _AccountStream, gap: StreamGap) -> None:
        """Tell consumers about a reconnect now; a seq jump only if it hid something."""
        if gap.reason == "reconnect":
            stream.unannounced = None
            self._push_gap(stream, gap)
        else:
            stream.unannounced = gap

    def _push_gap(self, stream: _AccountStream, gap: StreamGap) -> None:
        self.gaps += 1
        for buffer in stream.consumers:
            buffer.push(gap)

    async def _recover(self, stream: _AccountStream) -> None:
        book = stream.book
        try:
            while True:
                snapshot = await self._snapshot_until_it_works(book.account_id, book.watermark)
                if snapshot is None or self._accounts.get(book.account_id) is not stream:
                    return
                held = stream.held or []
                for event in reconcile(book, snapshot, held):
                    if book.apply(event):
                        if stream.unannounced is not None:
                            self._push_gap(stream, stream.unannounced)
                            stream.unannounced = None
                        self.recovered_events += 1
                        for buffer in stream.consumers:
                            buffer.push(event)
                book.advance(snapshot.history, held)
                gap, stream.again = stream.again, None
                if gap is None:
                    break
                # Another gap while recovering: say so, keep holding, look again.
                self._announce(stream, gap)
            stream.unannounced = None
            self._release_held(stream)
        finally:
            stream.recovering = False

    def _release_held(self, stream: _AccountStream) -> None:
        held, stream.held = stream.held or [], None
        book = stream.book
        numbered = False
        for event in held:
            if event.seq is not None:
                numbered = True
                book.last_seq = max(book.last_seq or 0, event.seq)
            self._deliver(stream, event)
        stream.unanchored = not numbered

    async def _snapshot_until_it_works(
        self, account_id: str, watermark: datetime | None
    ) -> Snapshot | None:
        delay = self._policy.reconnect_initial
        while account_id in self._accounts:
            try:
                return await self._fetch_snapshot(account_id, watermark, False)
            except FxSocketError as exc:
                log.warning("recovering %s through REST failed (%s); retrying", account_id, exc)
                await anyio.sleep(delay)
                delay = min(delay * 2, self._policy.reconnect_max)
        return None

    # ----------------------------------------------------------- subscribing

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, message: ClientMessage) -> None:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await ws.send_str(encode(message).decode())

    async def _request(self, make: Callable[[int], ClientMessage]) -> None:
        """Send a subscribe/unsubscribe and wait for its ack, across reconnects."""
        with anyio.fail_after(self._policy.subscribe_timeout):
            while True:
                await self._wait_up()
                ws = self._ws
                if ws is None:
                    continue
                message = make(next(self._ids))
                future = asyncio.get_running_loop().create_future()
                self._acks[message.id] = future
                await self._send(ws, message)
                try:
                    await future
                    return
                except _Disconnected:
                    continue

    async def _wait_up(self) -> None:
        self.start()
        while not self._up.is_set():
            await self._up.wait()
        self._raise_if_fatal()

    async def _replay(self) -> None:
        ws = self._ws
        assert ws is not None
        self._replays.clear()
        for account_id, refs in self._quote_refs.items():
            inflight = self._inflight_quotes[account_id]
            symbols = sorted(s for s, n in refs.items() if n > 0 and not inflight[s])
            if symbols:
                request_id = next(self._ids)
                self._replays[request_id] = (account_id, "quotes")
                await self._send(
                    ws, Subscribe(id=request_id, channel="quotes", account_id=account_id,
                                  symbols=symbols),
                )  # fmt: skip
        for account_id in self._accounts:
            if self._inflight_events[account_id]:
                continue
            for channel in ("orders", "account"):
                request_id = next(self._ids)
                self._replays[request_id] = (account_id, channel)
                await self._send(
                    ws, Subscribe(id=request_id, channel=channel, account_id=account_id)
                )

    def _replay_refused(self, request_id: int, event: ErrorEvent) -> None:
        """A replayed subscription was refused: end its consumers, forget it."""
        account_id, channel = self._replays.pop(request_id)
        error = SubscriptionRefusedError(
            f"after reconnecting, the server refused {channel} of {account_id}: {event.message}",
            code=event.error,
        )
        log.warning("%s", error.message)
        if channel == "quotes":
            for buffers in self._quote_routes.pop(account_id, {}).values():
                for buffer in buffers:
                    buffer.fail(error)
                    self._retire(buffer)
            self._quote_refs.pop(account_id, None)
            self._resize_batches()
        else:
            stream = self._accounts.pop(account_id, None)
            for consumer in stream.consumers if stream is not None else ():
                consumer.fail(error)
                self._retire(consumer)

    async def add_quotes(self, account_id: str, symbols: list[str], buffer: QuoteBuffer) -> None:
        """Route ``symbols`` of ``account_id`` to ``buffer``; subscribe what is new.

        Raises ``SubscriptionRefusedError`` (the server's code), the stream's
        fatal error, or ``TimeoutError``.
        """
        self._raise_if_fatal()
        refs = self._quote_refs[account_id]
        new = [s for s in symbols if refs[s] == 0]
        by_symbol = self._quote_routes.setdefault(account_id, {})
        for symbol in symbols:
            refs[symbol] += 1
            by_symbol.setdefault(symbol, []).append(buffer)
        self._resize_batches()
        if not new:
            return
        inflight = self._inflight_quotes[account_id]
        inflight.update(new)
        try:
            await self._request(
                lambda i: Subscribe(id=i, channel="quotes", account_id=account_id, symbols=new)
            )
        except BaseException as exc:
            # Unless the server refused it, the subscribe may have been applied.
            refused = isinstance(exc, SubscriptionRefusedError)
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_TIMEOUT):
                await self.remove_quotes(account_id, symbols, buffer, send=not refused)
            raise
        finally:
            inflight.subtract(new)

    async def remove_quotes(
        self, account_id: str, symbols: list[str], buffer: QuoteBuffer, *, send: bool = True
    ) -> None:
        """Stop routing to ``buffer``; unsubscribe symbols no one needs any more."""
        refs = self._quote_refs[account_id]
        by_symbol = self._quote_routes.get(account_id, {})
        gone = []
        for symbol in symbols:
            buffers = by_symbol.get(symbol, [])
            if buffer in buffers:
                buffers.remove(buffer)
            refs[symbol] -= 1
            if refs[symbol] <= 0:
                del refs[symbol]
                by_symbol.pop(symbol, None)
                gone.append(symbol)
        self._retire(buffer)
        self._resize_batches()
        if gone and send and self._ws is not None:
            await self._send(
                self._ws,
                Unsubscribe(id=next(self._ids), channel="quotes", account_id=account_id,
                            symbols=gone),
            )  # fmt: skip

    async def add_events(self, account_id: str, buffer: EventBuffer) -> None:
        """Route ``account_id``'s order, account and status events to ``buffer``.

        The first consumer of an account subscribes the ``orders`` and
        ``account`` channels, then reads the account's state from REST while
        holding live events, so nothing that happens after subscribing is lost.
        Raises ``SubscriptionRefusedError``, ``TimeoutError``, a REST error, or
        the stream's fatal error.
        """
        self._raise_if_fatal()
        stream = self._accounts.get(account_id)
        if stream is not None:
            stream.consumers.append(buffer)
            return
        stream = _AccountStream(OrderBook(account_id), held=[], recovering=True)
        stream.consumers.append(buffer)
        self._accounts[account_id] = stream
        self._inflight_events[account_id] += 1
        try:
            for channel in ("orders", "account"):
                await self._request(functools.partial(_subscribe, channel, account_id))
            snapshot = await self._fetch_snapshot(account_id, None, True)
        except BaseException as exc:
            refused = isinstance(exc, SubscriptionRefusedError)
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_TIMEOUT):
                await self.remove_events(account_id, buffer, send=not refused)
            raise
        finally:
            self._inflight_events[account_id] -= 1
        stream.book.seed(snapshot, stream.held or [])
        self._release_held(stream)
        stream.recovering = False
        gap, stream.again = stream.again, None
        if gap is not None:  # the connection was lost while seeding
            stream.held = []
            self._begin_recovery(stream, gap)

    async def remove_events(
        self, account_id: str, buffer: EventBuffer, *, send: bool = True
    ) -> None:
        stream = self._accounts.get(account_id)
        if stream is None:
            return
        if buffer in stream.consumers:
            stream.consumers.remove(buffer)
        self._retire(buffer)
        if stream.consumers:
            return
        del self._accounts[account_id]
        if send and self._ws is not None:
            for channel in ("orders", "account"):
                await self._send(
                    self._ws,
                    Unsubscribe(id=next(self._ids), channel=channel, account_id=account_id),
                )

    def _resize_batches(self) -> None:
        # The reader yields at least twice per smallest quote buffer, so a
        # consumer that is always ready never finds its buffer full.
        smallest = min((b.capacity for b in self._quote_buffers()), default=2 * _YIELD_EVERY)
        self._yield_every = max(1, min(_YIELD_EVERY, smallest // 2))

    def _quote_buffers(self) -> list[QuoteBuffer]:
        unique: dict[int, QuoteBuffer] = {}
        for by_symbol in self._quote_routes.values():
            for buffers in by_symbol.values():
                for buffer in buffers:
                    unique[id(buffer)] = buffer
        return list(unique.values())

    def _retire(self, buffer: QuoteBuffer | EventBuffer) -> None:
        self._retired["conflated"] += getattr(buffer, "conflated", 0)
        self._retired["dropped"] += buffer.dropped

    # ----------------------------------------------------------------- stats

    def _buffers(self) -> list[QuoteBuffer | EventBuffer]:
        buffers: list[QuoteBuffer | EventBuffer] = list(self._quote_buffers())
        for stream in self._accounts.values():
            buffers.extend(stream.consumers)
        return buffers

    def newest_quote_age(self) -> float | None:
        """Seconds since a quote last arrived (measured to about a second)."""
        at = self._newest_quote_at
        return None if at is None else time.monotonic() - at

    def stats(self) -> StreamStats:
        buffers = self._buffers()
        return StreamStats(
            connected=self._up.is_set() and self._fatal is None,
            frames=self.frames,
            bytes=self.bytes,
            decode_errors=self.decode_errors,
            unknown_events=self.unknown_events,
            reconnects=self.reconnects,
            gaps=self.gaps,
            recovered_events=self.recovered_events,
            conflated=self._retired["conflated"] + sum(getattr(b, "conflated", 0) for b in buffers),
            dropped=self._retired["dropped"] + sum(b.dropped for b in buffers),
            buffer_depth=sum(b.depth for b in buffers),
            consumers=len(buffers),
            newest_quote_age=self.newest_quote_age(),
        )
