"""The parts one open ``AsyncFxSocket`` is made of, assembled in order and torn down in reverse."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import anyio
from anyio.abc import TaskGroup

from ._clock import Clock
from ._config import RateLimit, RetryPolicy, StreamPolicy, Timeouts, WatcherPolicy
from ._core.market import SymbolInfo
from ._dialects.reference import ReferenceManagement
from ._rest.accounts import Accounts
from ._rest.client import RestClient
from ._rest.pacing import Pacers
from ._rest.resource import BareBucket
from ._rest.snapshots import SnapshotReader
from ._rest.trading import AccountClient
from ._rest.transport import AiohttpTransport
from ._rest.watcher import AccountWatcher
from ._routing import DialectSetting, Routing
from ._stream.transport import make_transport

__all__ = ["SessionParts", "Settings", "open_parts"]


@dataclass(frozen=True, slots=True)
class Settings:
    """What the session was configured with (``AsyncFxSocket.__init__``)."""

    base_url: str
    ws_url: str
    api_key: str
    dialect: DialectSetting
    timeouts: Timeouts
    retry: RetryPolicy
    rate_limit: RateLimit
    watcher: WatcherPolicy
    stream: StreamPolicy
    ssl_context: ssl.SSLContext | None
    clock: Clock


@dataclass(slots=True)
class SessionParts:
    """An open session's HTTP pool, background tasks, REST client and sockets."""

    http: aiohttp.ClientSession
    tasks: TaskGroup
    rest: RestClient
    watcher: AccountWatcher
    accounts: Accounts
    bare_bucket: BareBucket
    routing: Routing
    #: Read once per session: symbol specs by (account, symbol), UTC offsets by account.
    symbols: dict[tuple[str, str], SymbolInfo] = field(default_factory=dict)
    utc_offsets: dict[str, int] = field(default_factory=dict)


async def open_parts(
    settings: Settings,
    management: ReferenceManagement,
    stack: contextlib.AsyncExitStack,
    account: Callable[[str], AccountClient],
) -> SessionParts:
    """Make the parts; everything made is registered on ``stack`` to be undone."""
    ssl_setting = settings.ssl_context if settings.ssl_context is not None else True
    http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ssl_setting), raise_for_status=False
    )
    stack.push_async_callback(_close_shielded, http)
    # Before anything is sent: picows asked for but missing is a ConfigurationError.
    stream_transport = make_transport(settings.stream.transport, http, settings.ssl_context)
    tasks = await stack.enter_async_context(anyio.create_task_group())
    # Exit runs last-in first-out: cancel the background tasks, then wait for
    # them (leaving the task group), then close HTTP.
    stack.callback(tasks.cancel_scope.cancel)
    clock, limits = settings.clock, settings.rate_limit
    rest = RestClient(
        AiohttpTransport(http, timeouts=settings.timeouts, clock=clock),
        retry=settings.retry,
        pacers=Pacers(limits.per_account, limits.management, limits.burst, clock),
        clock=clock,
    )
    watcher = AccountWatcher(rest, management, settings.watcher, clock)
    stack.callback(watcher.close)
    tasks.start_soon(watcher.run)
    accounts = Accounts(rest, management, watcher)
    routing = Routing(
        settings.dialect,
        base_url=settings.base_url,
        ws_url=settings.ws_url,
        api_key=settings.api_key,
        accounts=accounts,
        watcher=watcher,
        transport=stream_transport,
        policy=settings.stream,
        connect_timeout=settings.timeouts.connect,
        clock=clock,
        tasks=tasks,
        snapshots=SnapshotReader(accounts, account),
    )
    stack.callback(routing.close)
    return SessionParts(
        http=http,
        tasks=tasks,
        rest=rest,
        watcher=watcher,
        accounts=accounts,
        bare_bucket=BareBucket(rest, management),
        routing=routing,
    )


async def _close_shielded(http: aiohttp.ClientSession) -> None:
    # Closing must finish even when the session is left by cancellation,
    # or aiohttp warns about an unclosed session.
    with anyio.CancelScope(shield=True):
        await http.close()
