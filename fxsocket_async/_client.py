"""``AsyncFxSocket``: the session that owns the connection pool and background tasks."""

from __future__ import annotations

import contextlib
import os
import ssl
from types import TracebackType
from typing import Any, Self

from ._clock import Clock, SystemClock
from ._config import RateLimit, RetryPolicy, StreamPolicy, Timeouts, WatcherPolicy
from ._core.dialect import Topic
from ._core.market import Bar, PositionsSnapshot, TerminalStatus
from ._core.validation import (
    check_account_id,
    check_buffer,
    check_symbol,
    check_symbols,
    check_timeframe,
)
from ._dialects.reference import DEFAULT_BASE_URL, DEFAULT_WS_URL, ReferenceManagement
from ._exceptions import (
    APIError,
    ConfigurationError,
    NotFoundError,
    SessionClosedError,
    SubscriptionRefusedError,
    TerminalNotReadyError,
)
from ._rest.accounts import Accounts
from ._rest.resource import AccountContext
from ._rest.trading import AccountClient
from ._routing import DIALECT_SETTINGS, DialectSetting
from ._session import SessionParts, Settings, open_parts
from ._stream.fanout import BarBuffer, EventBuffer, LatestValue, QuoteMode, quote_buffer
from ._stream.state import ConnectionStatus
from ._stream.stats import combined
from ._stream.stream import Stream
from ._stream.subscriptions import (
    EventSubscription,
    QuoteSubscription,
    StreamResolver,
    TopicSubscription,
)

__all__ = ["AsyncFxSocket"]

API_KEY_ENV = "FXSOCKET_API_KEY"
BASE_URL_ENV = "FXSOCKET_BASE_URL"
WS_URL_ENV = "FXSOCKET_WS_URL"
_NOT_OPEN = "the session is not open: use it inside 'async with AsyncFxSocket(...) as fx'"


class AsyncFxSocket:
    """One FxSocket session: ``async with AsyncFxSocket() as fx: ...``.

    The session owns one aiohttp ``ClientSession`` for REST, shared by every
    account, the WebSockets (one per key for the reference routes, one per
    account served by its own terminal) and a task group for its background
    work; leaving the block ends them all.

    ``api_key`` defaults to ``$FXSOCKET_API_KEY``; ``base_url`` and ``ws_url``
    to ``$FXSOCKET_BASE_URL`` / ``$FXSOCKET_WS_URL`` or the service's. TLS
    certificates are verified; pass ``ssl_context`` to trust another CA.
    ``dialect`` says how accounts are reached: ``"auto"`` (default) drives
    an account through its own terminal when its record names one
    (``rest_url``/``ws_url``) and through the reference routes otherwise;
    ``"reference"`` or ``"terminal"`` forces one (see docs/protocol.md).

    Raises ``ConfigurationError`` when no API key is given, a URL is not
    http(s)/ws(s), or ``dialect`` is none of those.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        ws_url: str | None = None,
        dialect: DialectSetting = "auto",
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        rate_limit: RateLimit = RateLimit(),
        watcher: WatcherPolicy = WatcherPolicy(),
        stream: StreamPolicy = StreamPolicy(),
        ssl_context: ssl.SSLContext | None = None,
        clock: Clock | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        if not key:
            raise ConfigurationError(
                f"no API key: pass api_key=... or set the {API_KEY_ENV} environment variable"
            )
        if dialect not in DIALECT_SETTINGS:
            raise ConfigurationError(
                f"dialect must be one of {', '.join(map(repr, DIALECT_SETTINGS))}, not {dialect!r}",
                code="invalid_dialect",
            )
        self.base_url = _url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL, "http")
        self.ws_url = _url(ws_url or os.environ.get(WS_URL_ENV) or DEFAULT_WS_URL, "ws")
        self.dialect: DialectSetting = dialect
        self.timeouts = timeouts
        self.retry = retry
        self.rate_limit = rate_limit
        self.watcher_policy = watcher
        self.stream_policy = stream
        self._settings = Settings(
            base_url=self.base_url,
            ws_url=self.ws_url,
            api_key=key,
            dialect=dialect,
            timeouts=timeouts,
            retry=retry,
            rate_limit=rate_limit,
            watcher=watcher,
            stream=stream,
            ssl_context=ssl_context,
            clock=clock or SystemClock(),
        )
        self._management = ReferenceManagement(self.base_url, key)
        self._stack: contextlib.AsyncExitStack | None = None
        self._parts: SessionParts | None = None

    def __repr__(self) -> str:
        state = "open" if self._stack is not None else "closed"
        return f"AsyncFxSocket(base_url={self.base_url!r}, ws_url={self.ws_url!r}, {state})"

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise SessionClosedError("this session is already open; use one async with block")
        stack = contextlib.AsyncExitStack()
        try:
            parts = await open_parts(self._settings, self._management, stack, self.account)
        except BaseException:
            await stack.aclose()
            raise
        self._stack, self._parts = stack, parts
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End the session: background tasks, feeds and connections."""
        stack, self._stack, self._parts = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    def _open(self) -> SessionParts:
        if self._parts is None:
            raise SessionClosedError(_NOT_OPEN)
        return self._parts

    # ------------------------------------------------------------ resources

    @property
    def accounts(self) -> Accounts:
        """Account management: list, link, ensure, get, unlink, wait_connected, watch."""
        return self._open().accounts

    def account(self, account_id: str | None = None) -> AccountClient:
        """Trading and market data for one account, in the account's dialect.

        ``fx.account()`` with no id uses the reference's bare routes, which
        act on the key's only linked account (``AccountRequiredError`` when
        it has several).
        """
        parts = self._open()
        routing = parts.routing
        context = AccountContext(
            rest=parts.rest,
            dialect=lambda: routing.rest_dialect(account_id),
            tasks=parts.tasks,
            account_id=account_id,
            bare_bucket=parts.bare_bucket,
            clock=self._settings.clock,
            symbols=parts.symbols,
            utc_offsets=parts.utc_offsets,
        )
        return AccountClient(context)

    # ------------------------------------------------------------ streaming

    def connection(self, account: str | None = None) -> ConnectionStatus:
        """The typed state of the stream socket that carries ``account``'s data.

        ``fx.connection().state`` is a ``ConnectionState`` (idle, connecting,
        live, degraded, reconnecting, closed, failed); ``await
        fx.connection().wait_for("live")`` waits for one; ``async with
        fx.connection().watch() as states`` iterates every change. With no
        ``account``, the session's shared socket. An account whose dialect is
        not decided yet (its record was never read) is reported on the shared
        socket; ``await fx.connect_stream(account=...)`` decides it.

        Raises ``SessionClosedError`` outside the session.
        """
        return self._open().routing.stream_now(account).status

    async def connect_stream(self, *, account: str | None = None) -> None:
        """Open the socket that carries ``account`` (the shared one by default) now,
        instead of on the first subscription.

        Raises ``AuthenticationError`` / ``PermissionDeniedError`` when the
        handshake refuses the key, ``ConfigurationError`` for a wrong URL,
        ``ConnectionFailedError``, ``TimeoutError``, or (choosing the
        account's dialect) ``NotFoundError``/``TerminalNotReadyError``.
        """
        routing = self._open().routing
        stream = routing.shared_stream if account is None else await routing.stream_for(account)
        await stream.wait_connected()

    def quotes(
        self,
        *symbols: str,
        account: str,
        mode: QuoteMode = "conflate",
        buffer: int | None = None,
    ) -> QuoteSubscription:
        """Live quotes: ``async with fx.quotes("EURUSD", account=id) as quotes``.

        ``mode="conflate"`` (default): latest-value; you never read a quote
        when a newer one of its symbol has already arrived (replaced quotes
        are counted in ``stats().conflated``); a consumer that keeps up sees
        every quote. ``mode="all"``: every tick, in order; letting ``buffer``
        quotes pile up ends this consumer with ``ConsumerOverflowError``.

        Raises ``ValidationError`` for bad arguments (before anything is
        sent); entering raises ``SubscriptionRefusedError`` when the server
        refuses, the stream's fatal error, or ``TimeoutError``.
        """
        wanted = check_symbols(symbols, "fx.quotes")
        check_account_id(account)
        capacity = check_buffer(buffer, self.stream_policy.quote_buffer)
        sink = quote_buffer(mode, capacity)
        return QuoteSubscription(self._resolver(account), account, wanted, sink)

    def events(
        self, *, account: str, buffer: int | None = None, include_unknown: bool = True
    ) -> EventSubscription:
        """Order, account and status events of one account, lossless, in order.

        After a reconnect or a ``seq`` jump the consumer first gets a
        ``StreamGap``, then the missed order events rebuilt from REST
        (``recovered=True``), then live events again. A consumer that lets
        ``buffer`` events pile up is ended with ``ConsumerOverflowError``;
        others are not affected.
        """
        check_account_id(account)
        capacity = check_buffer(buffer, self.stream_policy.event_buffer)
        sink = EventBuffer(capacity, include_unknown)
        return EventSubscription(self._resolver(account), account, sink)

    def bars(
        self, symbol: str, timeframe: str, *, account: str, buffer: int | None = None
    ) -> TopicSubscription[Bar]:
        """Live bars of ``symbol`` in ``timeframe`` (``M1`` ... ``MN1``) from its terminal.

        Each ``Bar`` is the newest state of one bar; an update of the bar being
        formed replaces a waiting update of that bar (counted in
        ``stats().conflated``), so no bar is skipped. Letting ``buffer`` bars
        pile up ends the consumer with ``ConsumerOverflowError``.

        Raises ``ValidationError`` (before anything is sent); entering raises
        ``UnsupportedError`` on the reference routes, or what ``quotes`` raises.
        """
        check_symbol(symbol)
        frame = check_timeframe(timeframe)
        check_account_id(account)
        capacity = check_buffer(buffer, self.stream_policy.event_buffer)
        topic = Topic(account, "bars", f"{symbol}:{frame}")
        return TopicSubscription(self._resolver(account), topic, BarBuffer(capacity))

    def positions(self, *, account: str) -> TopicSubscription[PositionsSnapshot]:
        """The terminal's snapshots of every open position and pending order, newest first
        (a snapshot replaced before it was read is counted in ``stats().conflated``).

        Entering raises ``UnsupportedError`` on the reference routes (use
        ``events()``), or what ``quotes`` raises.
        """
        check_account_id(account)
        topic = Topic(account, "positions")
        return TopicSubscription(self._resolver(account), topic, LatestValue())

    def terminal_status(self, *, account: str) -> TopicSubscription[TerminalStatus]:
        """The terminal's connection and trading state as it changes (newest state).

        Entering raises ``UnsupportedError`` on the reference routes, or what
        ``quotes`` raises.
        """
        check_account_id(account)
        topic = Topic(account, "terminal")
        return TopicSubscription(self._resolver(account), topic, LatestValue())

    def _resolver(self, account: str) -> StreamResolver:
        routing = self._open().routing

        async def resolve() -> Stream:
            # Choosing the socket reads the account's record: an unknown account, or
            # one whose terminal is not up, is refused as the reference stream does.
            refusal: APIError
            try:
                return await routing.stream_for(account)
            except (NotFoundError, TerminalNotReadyError) as exc:
                refusal = exc
            raise SubscriptionRefusedError(
                f"account {account}: {refusal.message}", code=refusal.code
            )

        return resolve

    def stats(self) -> dict[str, Any]:
        """Counters: REST requests, retries, watcher rounds; ``stream`` (a ``StreamStats``
        summing every socket) and ``streams`` (each socket's, by account; ``None``: shared)."""
        parts = self._parts
        if parts is None:
            return {"requests": 0, "retries": 0, "watcher_rounds": 0, "stream": None, "streams": {}}
        each = {stream.account_id: stream.stats() for stream in parts.routing.streams()}
        return {
            "requests": parts.rest.requests,
            "retries": parts.rest.retries,
            "watcher_rounds": parts.watcher.rounds,
            "stream": combined(list(each.values())),
            "streams": each,
        }


def _url(value: str, scheme: str) -> str:
    if not value.startswith((f"{scheme}://", f"{scheme}s://")):
        raise ConfigurationError(
            f"{value!r} is not a {scheme}:// or {scheme}s:// URL", code="invalid_url"
        )
    return value.rstrip("/")
