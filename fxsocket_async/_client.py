"""``AsyncFxSocket``: the session that owns the connection pool and background tasks."""

from __future__ import annotations

import contextlib
import os
import ssl
from types import TracebackType
from typing import Self

import aiohttp
import anyio
from anyio.abc import TaskGroup

from ._accounts import Accounts, AccountWatcher
from ._config import RateLimit, RetryPolicy, Timeouts, WatcherPolicy
from ._exceptions import ConfigurationError, SessionClosedError
from ._protocol import DEFAULT_BASE_URL, DEFAULT_WS_URL
from ._ratelimit import Pacers
from ._trading import AccountClient
from ._transport import HttpTransport

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
        ssl_context: ssl.SSLContext | None = None,
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
        self._ssl_context = ssl_context
        self._stack: contextlib.AsyncExitStack | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: TaskGroup | None = None
        self._transport: HttpTransport | None = None
        self._accounts: Accounts | None = None
        self._watcher: AccountWatcher | None = None

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
            transport = HttpTransport(
                http,
                base_url=self.base_url,
                api_key=self._api_key,
                timeouts=self.timeouts,
                retry=self.retry,
                pacers=Pacers(
                    self.rate_limit.per_account, self.rate_limit.management, self.rate_limit.burst
                ),
            )
            watcher = AccountWatcher(transport, self.watcher_policy)
            stack.callback(watcher.close)
            tasks.start_soon(watcher.run)
        except BaseException:
            await stack.aclose()
            raise
        self._stack, self._http, self._tasks = stack, http, tasks
        self._transport, self._watcher = transport, watcher
        self._accounts = Accounts(transport, watcher)
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
        if self._transport is None or self._tasks is None:
            raise SessionClosedError(
                "the session is not open: use it inside 'async with AsyncFxSocket(...) as fx'"
            )
        return AccountClient(self._transport, self._tasks, account_id)

    def stats(self) -> dict[str, int]:
        """Counters: REST requests sent, retries, and account watcher rounds."""
        transport, watcher = self._transport, self._watcher
        return {
            "requests": transport.requests if transport else 0,
            "retries": transport.retries if transport else 0,
            "watcher_rounds": watcher.rounds if watcher else 0,
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
