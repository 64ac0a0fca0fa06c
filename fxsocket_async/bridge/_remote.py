"""``RemoteFxSocket``: the shapes of ``AsyncFxSocket``, served by a bridge over NATS.

::

    async with RemoteFxSocket(nats="nats://10.0.0.5:4222") as fx:
        async with fx.quotes("EURUSD", account=account_id) as quotes:
            async for quote in quotes: ...
        async with fx.events(account=account_id, durable="risk") as events:
            async for event in events: ...
        await fx.account(account_id).orders.create("EURUSD", "BUY", 0.1)

One NATS connection per ``RemoteFxSocket``; nothing here talks to FxSocket
itself: quotes come from core-NATS subjects, events from a durable JetStream
consumer, REST by request/reply through the bridge's session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import nats.errors
import nats.js.errors
from nats.aio.client import Client

from .._core.validation import check_account_id, check_buffer, check_symbols
from .._exceptions import ConnectionFailedError, SessionClosedError, ValidationError
from .._stream.fanout import DEFAULT_QUOTE_CAPACITY, QuoteMode, quote_buffer
from ._errors import BridgeUnavailableError
from ._remote_events import DEFAULT_ACK_WAIT, DEFAULT_EVENT_BATCH, RemoteEventSubscription
from ._remote_quotes import RemoteQuoteSubscription
from ._remote_rpc import RemoteAccount, RemoteAccounts, RpcCaller
from ._wire import DEFAULT_PREFIX, BridgeStatus, Wire, decode_status

__all__ = ["RemoteFxSocket", "safe_url"]

log = logging.getLogger("fxsocket_async.bridge")

_NOT_OPEN = "the remote session is not open: use it inside 'async with RemoteFxSocket(...) as fx'"


class RemoteFxSocket:
    """A consumer of a bridge: ``async with RemoteFxSocket(nats="nats://HOST:4222") as fx``.

    ``nats`` is one URL or several (a cluster's seeds); credentials in a URL
    are used but never shown. ``prefix`` must be the bridge's (default
    ``fxsocket``). ``request_timeout`` bounds each REST call through the
    bridge; within it a request the bridge has not answered after
    ``attempt_timeout`` is sent again where that is safe (see
    ``_remote_rpc``). After connecting, NATS reconnects by itself.

    Raises ``ValidationError`` for a bad prefix or timeout.
    """

    def __init__(
        self,
        nats: str | Sequence[str] = "nats://127.0.0.1:4222",
        *,
        prefix: str = DEFAULT_PREFIX,
        connect_timeout: float = 5.0,
        request_timeout: float = 30.0,
        attempt_timeout: float = 5.0,
        name: str | None = None,
    ) -> None:
        servers = [nats] if isinstance(nats, str) else list(nats)
        if not servers or not all(isinstance(s, str) and s for s in servers):
            raise ValidationError("nats must be a URL such as 'nats://127.0.0.1:4222'")
        for name_, value in (
            ("connect_timeout", connect_timeout),
            ("request_timeout", request_timeout),
            ("attempt_timeout", attempt_timeout),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValidationError(f"{name_} must be a positive number of seconds")
        self._servers = servers
        self.wire = Wire(prefix)
        self.connect_timeout = float(connect_timeout)
        self.request_timeout = float(request_timeout)
        self.attempt_timeout = float(attempt_timeout)
        self._name = name
        self._nc: Client | None = None
        self._caller: RpcCaller | None = None
        self._quote_subs: list[RemoteQuoteSubscription] = []
        self._event_subs: list[RemoteEventSubscription] = []
        self.nats_errors = 0
        self.reconnects = 0

    @property
    def servers(self) -> list[str]:
        """The NATS URLs, without credentials."""
        return [safe_url(s) for s in self._servers]

    def __repr__(self) -> str:
        state = "open" if self._nc is not None else "closed"
        return f"RemoteFxSocket(nats={self.servers!r}, prefix={self.wire.prefix!r}, {state})"

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        """Connect to NATS.

        Raises ``ConnectionFailedError`` naming the URL (without credentials)
        when no server accepts within ``connect_timeout``, ``SessionClosedError``
        when already open.
        """
        if self._nc is not None:
            raise SessionClosedError("this session is already open; use one async with block")
        nc = Client()
        reason = ""
        try:
            await asyncio.wait_for(
                nc.connect(
                    servers=self._servers,
                    name=self._name,
                    connect_timeout=max(1, round(self.connect_timeout)),
                    reconnect_time_wait=0.5,  # type: ignore[arg-type]
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                    reconnected_cb=self._on_reconnect,
                    allow_reconnect=True,
                ),
                self.connect_timeout,
            )
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            reason = type(exc).__name__
        if reason:
            await _close_quietly(nc)
            raise ConnectionFailedError(
                f"cannot connect to NATS at {', '.join(self.servers)} within "
                f"{self.connect_timeout:g} s ({reason})",
                code="nats_unreachable",
            )
        self._nc = nc
        self._caller = RpcCaller(
            nc, self.wire, timeout=self.request_timeout, attempt_timeout=self.attempt_timeout
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Leave every subscription (acking what was taken) and close the connection."""
        nc, self._nc = self._nc, None
        if nc is None:
            return
        for sub in self._event_subs:
            await sub.aclose()
        for quotes in self._quote_subs:
            await quotes.aclose()
        await _close_quietly(nc)

    async def _on_error(self, exc: Exception) -> None:
        # nats-py reports connection trouble here; its text may name the server, never
        # credentials, but a URL with user:pass could appear: only the type is logged.
        self.nats_errors += 1
        log.debug("NATS: %s", type(exc).__name__)

    async def _on_reconnect(self) -> None:
        self.reconnects += 1

    def _open(self) -> Client:
        if self._nc is None:
            raise SessionClosedError(_NOT_OPEN)
        return self._nc

    # ------------------------------------------------------------ feeds

    def quotes(
        self,
        *symbols: str,
        account: str,
        mode: QuoteMode = "conflate",
        buffer: int | None = None,
        latest: bool = True,
    ) -> RemoteQuoteSubscription:
        """Live quotes through the bridge: ``async with fx.quotes("EURUSD", account=id) as q``.

        The modes of ``AsyncFxSocket.quotes``: ``"conflate"`` (default, the
        newest quote per symbol, replaced ones counted in ``conflated``) or
        ``"all"`` (every quote in order; ``buffer`` of them piling up ends
        this consumer with ``ConsumerOverflowError``). With ``latest`` (the
        default) the newest quote of each symbol the bridge saw comes first.
        Batches the bridge sent that never arrived are counted in
        ``stats().missed_batches``.

        Raises ``ValidationError`` for bad arguments, ``SessionClosedError``
        outside the session; entering raises ``BridgeUnavailableError``.
        """
        nc = self._open()
        wanted = check_symbols(symbols, "fx.quotes")
        check_account_id(account)
        capacity = check_buffer(buffer, DEFAULT_QUOTE_CAPACITY)
        subscription = RemoteQuoteSubscription(
            nc, self.wire, account, wanted, quote_buffer(mode, capacity), latest=latest
        )
        self._quote_subs = [s for s in self._quote_subs if s._state != "closed"]
        self._quote_subs.append(subscription)
        return subscription

    def events(
        self,
        *,
        account: str,
        durable: str | None = None,
        batch: int = DEFAULT_EVENT_BATCH,
        ack_wait: float = DEFAULT_ACK_WAIT,
    ) -> RemoteEventSubscription:
        """Order, account and status events of ``account``, lossless and in order.

        With ``durable="name"`` the position survives restarts: the next run
        with that name resumes after the last event this one took. A new name
        starts with the oldest event the stream keeps; without ``durable``,
        from now on. ``batch`` events are fetched at once (and at most that
        many are unacknowledged); one held longer than ``ack_wait`` seconds
        unacknowledged is delivered again (and skipped by this run).

        Raises ``ValidationError`` for bad arguments, ``SessionClosedError``
        outside the session; entering raises ``BridgeUnavailableError`` or
        ``ConfigurationError`` (a durable name of another account).
        """
        nc = self._open()
        check_account_id(account)
        check_buffer(batch, DEFAULT_EVENT_BATCH)
        if isinstance(ack_wait, bool) or not isinstance(ack_wait, int | float) or ack_wait <= 0:
            raise ValidationError("ack_wait must be a positive number of seconds")
        subscription = RemoteEventSubscription(
            nc, self.wire, account, durable=durable, batch=batch, ack_wait=float(ack_wait)
        )
        self._event_subs = [s for s in self._event_subs if s._state != "closed"]
        self._event_subs.append(subscription)
        return subscription

    # ------------------------------------------------------------ REST

    def account(self, account_id: str) -> RemoteAccount:
        """REST calls of one account through the bridge (``quote``, ``summary``,
        ``orders.create`` ...); see ``RemoteAccount``.

        Raises ``ValidationError`` for a bad id, ``SessionClosedError`` outside
        the session.
        """
        self._open()
        assert self._caller is not None
        return RemoteAccount(self._caller, account_id)

    @property
    def accounts(self) -> RemoteAccounts:
        """The key's accounts through the bridge: ``list()``, ``get(id)``."""
        self._open()
        assert self._caller is not None
        return RemoteAccounts(self._caller)

    async def bridge_status(self, account: str) -> BridgeStatus | None:
        """What the bridge last reported of ``account``'s upstream (``None``: nothing yet).

        Raises ``ValidationError``, ``SessionClosedError``, or
        ``BridgeUnavailableError`` when NATS cannot be read.
        """
        nc = self._open()
        check_account_id(account)
        failure = ""
        try:
            kv = await nc.jetstream().key_value(self.wire.bridge_bucket)
            entry = await kv.get(self.wire.status_key(account))
        except nats.js.errors.NotFoundError:
            return None
        except (nats.errors.Error, TimeoutError) as exc:
            failure = type(exc).__name__
        if failure:
            raise BridgeUnavailableError(f"cannot read the bridge's status: {failure}")
        return None if entry.value is None else decode_status(entry.value)

    def stats(self) -> dict[str, Any]:
        """Counters: NATS errors and reconnects, RPC calls and re-sends, each quote
        subscription's ``RemoteQuoteStats`` and each events subscription's counts."""
        caller = self._caller
        return {
            "connected": self._nc is not None and self._nc.is_connected,
            "nats_errors": self.nats_errors,
            "reconnects": self.reconnects,
            "rpc": None if caller is None else vars(caller.stats),
            "quotes": [sub.stats() for sub in self._quote_subs],
            "events": [sub.stats() for sub in self._event_subs],
        }


def safe_url(url: str) -> str:
    """``url`` without the user and password it may carry."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def _close_quietly(nc: Client) -> None:
    with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
        await asyncio.wait_for(nc.close(), 5.0)
