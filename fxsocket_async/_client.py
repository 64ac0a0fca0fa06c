"""``AsyncFxSocket``: the session that owns the connection pool and background tasks."""

from __future__ import annotations

import contextlib
import os
import ssl
from types import TracebackType
from typing import Any, Self

import aiohttp
import anyio
from anyio.abc import TaskGroup

from ._clock import Clock, SystemClock
from ._config import RateLimit, RetryPolicy, StreamPolicy, Timeouts, WatcherPolicy
from ._core.validation import check_account_id, check_buffer, check_symbols
from ._dialects.reference import (
    DEFAULT_BASE_URL,
    DEFAULT_WS_URL,
    ReferenceManagement,
    ReferenceRest,
    ReferenceStream,
)
from ._exceptions import ConfigurationError, SessionClosedError
from ._rest.accounts import Accounts
from ._rest.client import RestClient
from ._rest.pacing import Pacers
from ._rest.resource import AccountContext, BareBucket
from ._rest.snapshots import SnapshotReader
from ._rest.trading import AccountClient
from ._rest.transport import AiohttpTransport
from ._rest.watcher import AccountWatcher
from ._stream.fanout import EventBuffer, QuoteMode, quote_buffer
from ._stream.state import ConnectionStatus
from ._stream.stream import Stream
from ._stream.subscriptions import EventSubscription, QuoteSubscription

__all__ = ["AsyncFxSocket"]

API_KEY_ENV = "FXSOCKET_API_KEY"
BASE_URL_ENV = "FXSOCKET_BASE_URL"
WS_URL_ENV = "FXSOCKET_WS_URL"


class AsyncFxSocket:
    """One FxSocket session: ``async with AsyncFxSocket() as fx: ...``.

    The session owns one aiohttp ``ClientSession`` for REST, shared by every
    account, and a task group for its background work (the account watcher);
    leaving the block ends them all.

    ``api_key`` defaults to ``$FXSOCKET_API_KEY``; ``base_url`` and ``ws_url``
    to ``$FXSOCKET_BASE_URL`` / ``$FXSOCKET_WS_URL`` or the service's. TLS
    certificates are verified; pass ``ssl_context`` to trust another CA.

    Raises ``ConfigurationError`` when no API key is given or a URL is not
    http(s)/ws(s).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        ws_url: str | None = None,
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
        self._api_key = key
        self.base_url = _url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL, "http")
        self.ws_url = _url(ws_url or os.environ.get(WS_URL_ENV) or DEFAULT_WS_URL, "ws")
        self.timeouts = timeouts
        self.retry = retry
        self.rate_limit = rate_limit
        self.watcher_policy = watcher
        self.stream_policy = stream
        self._ssl_context = ssl_context
        self._clock: Clock = clock or SystemClock()
        self._stack: contextlib.AsyncExitStack | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: TaskGroup | None = None
        self._rest: RestClient | None = None
        self._management = ReferenceManagement(self.base_url, key)
        self._bare_bucket: BareBucket | None = None
        self._accounts: Accounts | None = None
        self._watcher: AccountWatcher | None = None
        self._stream: Stream | None = None

    def __repr__(self) -> str:
        state = "open" if self._stack is not None else "closed"
        return f"AsyncFxSocket(base_url={self.base_url!r}, ws_url={self.ws_url!r}, {state})"

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise SessionClosedError("this session is already open; use one async with block")
        stack = contextlib.AsyncExitStack()
        try:
            connector = aiohttp.TCPConnector(
                ssl=self._ssl_context if self._ssl_context is not None else True
            )
            http = aiohttp.ClientSession(connector=connector, raise_for_status=False)
            stack.push_async_callback(_close_shielded, http)
            tasks = await stack.enter_async_context(anyio.create_task_group())
            # Exit runs last-in first-out: cancel the background tasks, then
            # wait for them (leaving the task group), then close HTTP.
            stack.callback(tasks.cancel_scope.cancel)
            clock = self._clock
            rest = RestClient(
                AiohttpTransport(http, timeouts=self.timeouts, clock=clock),
                retry=self.retry,
                pacers=Pacers(
                    self.rate_limit.per_account,
                    self.rate_limit.management,
                    self.rate_limit.burst,
                    clock,
                ),
                clock=clock,
            )
            watcher = AccountWatcher(rest, self._management, self.watcher_policy, clock)
            stack.callback(watcher.close)
            tasks.start_soon(watcher.run)
            accounts = Accounts(rest, self._management, watcher)
            self._bare_bucket = BareBucket(rest, self._management)
            snapshots = SnapshotReader(accounts, self.account)
            stream = Stream(
                http,
                ReferenceStream(self.ws_url, self._api_key),
                account_id=None,
                policy=self.stream_policy,
                connect_timeout=self.timeouts.connect,
                clock=clock,
                tasks=tasks,
                snapshots=snapshots,
            )
            stack.callback(stream.close)
            watcher.add_listener(stream.status_changed)
        except BaseException:
            await stack.aclose()
            raise
        self._stack, self._http, self._tasks = stack, http, tasks
        self._rest, self._watcher, self._stream = rest, watcher, stream
        self._accounts = accounts
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
        stack, self._stack = self._stack, None
        self._accounts = None
        self._rest = None
        self._stream = None
        self._bare_bucket = None
        if stack is not None:
            await stack.aclose()

    # ------------------------------------------------------------ resources

    @property
    def accounts(self) -> Accounts:
        """Account management: list, link, get, unlink, wait_connected, watch."""
        if self._accounts is None:
            raise SessionClosedError(
                "the session is not open: use it inside 'async with AsyncFxSocket(...) as fx'"
            )
        return self._accounts

    def account(self, account_id: str | None = None) -> AccountClient:
        """Trading and market data for one account.

        ``fx.account()`` with no id uses the reference's bare routes, which
        act on the key's only linked account (``AccountRequiredError`` when
        it has several).
        """
        if self._rest is None or self._tasks is None or self._bare_bucket is None:
            raise SessionClosedError(
                "the session is not open: use it inside 'async with AsyncFxSocket(...) as fx'"
            )
        context = AccountContext(
            rest=self._rest,
            dialect=ReferenceRest(self.base_url, self._api_key, account_id),
            tasks=self._tasks,
            account_id=account_id,
            bare_bucket=self._bare_bucket,
            clock=self._clock,
        )
        return AccountClient(context)

    # ------------------------------------------------------------ streaming

    def _open_stream(self) -> Stream:
        if self._stream is None:
            raise SessionClosedError(
                "the session is not open: use it inside 'async with AsyncFxSocket(...) as fx'"
            )
        return self._stream

    def connection(self, account: str | None = None) -> ConnectionStatus:
        """The typed state of the stream socket that carries ``account``'s data.

        ``fx.connection().state`` is a ``ConnectionState`` (idle, connecting,
        live, degraded, reconnecting, closed, failed); ``await
        fx.connection().wait_for("live")`` waits for one; ``async with
        fx.connection().watch() as states`` iterates every change.

        Raises ``SessionClosedError`` outside the session.
        """
        return self._open_stream().status

    async def connect_stream(self) -> None:
        """Open the WebSocket now instead of on the first subscription.

        Raises ``AuthenticationError`` / ``PermissionDeniedError`` when the
        handshake refuses the key, or ``TimeoutError``.
        """
        await self._open_stream().wait_connected()

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
        return QuoteSubscription(self._open_stream(), account, wanted, sink)

    def events(
        self, *, account: str, buffer: int | None = None, include_unknown: bool = True
    ) -> EventSubscription:
        """Order, account and status events of one account, lossless, in ``seq`` order.

        After a reconnect or a ``seq`` jump the consumer first gets a
        ``StreamGap``, then the missed order events rebuilt from REST
        (``recovered=True``), then live events again. A consumer that lets
        ``buffer`` events pile up is ended with ``ConsumerOverflowError``;
        others are not affected.
        """
        check_account_id(account)
        capacity = check_buffer(buffer, self.stream_policy.event_buffer)
        return EventSubscription(
            self._open_stream(), account, EventBuffer(capacity, include_unknown)
        )

    def stats(self) -> dict[str, Any]:
        """Counters: REST requests, retries, watcher rounds, and ``stream`` (a ``StreamStats``)."""
        rest, watcher, stream = self._rest, self._watcher, self._stream
        return {
            "requests": rest.requests if rest else 0,
            "retries": rest.retries if rest else 0,
            "watcher_rounds": watcher.rounds if watcher else 0,
            "stream": stream.stats() if stream else None,
        }


async def _close_shielded(http: aiohttp.ClientSession) -> None:
    # Closing must finish even when the session is left by cancellation,
    # or aiohttp warns about an unclosed session.
    with anyio.CancelScope(shield=True):
        await http.close()


def _url(value: str, scheme: str) -> str:
    if not value.startswith((f"{scheme}://", f"{scheme}s://")):
        raise ConfigurationError(
            f"{value!r} is not a {scheme}:// or {scheme}s:// URL", code="invalid_url"
        )
    return value.rstrip("/")
