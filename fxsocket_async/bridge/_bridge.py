"""The bridge: one upstream session published to NATS JetStream for any number of processes.

``async with Bridge(fx, nats=url, accounts=[...], symbols=[...]) as bridge:`` sets up
the streams and buckets (``_wire``), then runs, per account, the events pump
(``_account``), the quotes pump, the REST responder (``_rpc_server``) and a
monitor that writes ``status.<account>`` and the metrics (``_metrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, Final, Self

import anyio
import anyio.abc
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError as JsBadRequestError
from nats.js.errors import NotFoundError as JsNotFoundError

from .._backoff import Backoff
from .._client import AsyncFxSocket
from .._core.validation import check_account_id, check_symbols
from .._exceptions import ConsumerOverflowError, FxSocketError, ValidationError
from ._account import AccountPump
from ._errors import BridgeUnavailableError
from ._metrics import BridgeMetrics
from ._monitor import run_monitor
from ._publisher import Publisher
from ._rpc_server import RpcServer
from ._wire import (
    DEFAULT_DUPLICATE_WINDOW,
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_BATCH,
    DEFAULT_PREFIX,
    DEFAULT_QUOTES_PER_SUBJECT,
    Wire,
)

__all__ = ["Bridge"]

log = logging.getLogger("fxsocket_async.bridge")

_QUOTE_BUFFER = 100_000
_RESUBSCRIBE: Final = Backoff(initial=0.25, maximum=5.0)


class Bridge:
    """Publishes ``fx``'s accounts to NATS: ``async with Bridge(fx, nats=..., accounts=[...])``.

    ``nats`` is a server URL (or a list: a cluster's seeds). Events of every
    account go to the ``<PREFIX>_EVENTS`` stream with stable message ids;
    quotes of ``symbols`` (none: no quotes) in batches of at most
    ``max_batch``, the newest per symbol to the KV bucket at most every
    ``latest_interval`` seconds; REST requests are answered when ``rpc``.
    ``metrics_port`` serves Prometheus metrics (``0``: a free port, see
    ``metrics_port`` after entering). ``publish_timeout`` bounds each wait for
    JetStream's acknowledgement; a publish not acknowledged by then is counted
    in ``publish_errors``.

    Raises ``ValidationError`` (here) for bad arguments; entering raises
    ``BridgeUnavailableError`` when NATS or JetStream cannot be reached.
    """

    def __init__(
        self,
        fx: AsyncFxSocket,
        *,
        nats: str | Sequence[str],
        accounts: Sequence[str],
        symbols: Sequence[str] = (),
        prefix: str = DEFAULT_PREFIX,
        max_batch: int = DEFAULT_MAX_BATCH,
        latest_interval: float = 0.05,
        max_age: timedelta = DEFAULT_MAX_AGE,
        duplicate_window: timedelta = DEFAULT_DUPLICATE_WINDOW,
        quotes_per_subject: int = DEFAULT_QUOTES_PER_SUBJECT,
        rpc: bool = True,
        metrics_port: int | None = None,
        monitor_interval: float = 1.0,
        connect_timeout: float = 5.0,
        publish_timeout: float = 5.0,
    ) -> None:
        servers = [nats] if isinstance(nats, str) else list(nats)
        if not servers or not all(isinstance(s, str) and "://" in s for s in servers):
            raise ValidationError(f"nats must be a URL such as nats://127.0.0.1:4222, not {nats!r}")
        if not accounts:
            raise ValidationError("a bridge needs at least one account")
        for account in accounts:
            check_account_id(account)
        if symbols:
            check_symbols(tuple(symbols), "Bridge")
        if not 1 <= max_batch <= 10_000:
            raise ValidationError(f"max_batch must be 1..10000, not {max_batch!r}")
        if not latest_interval >= 0 or not monitor_interval > 0:
            raise ValidationError("latest_interval and monitor_interval must be positive")
        if not all(0 < t < math.inf for t in (connect_timeout, publish_timeout)):
            raise ValidationError(
                "connect_timeout and publish_timeout must be positive and finite (seconds)"
            )
        if duplicate_window > max_age:
            raise ValidationError("duplicate_window must not be longer than max_age")
        self.fx = fx
        self.servers = servers
        self.accounts = list(dict.fromkeys(accounts))
        self.symbols = list(dict.fromkeys(symbols))
        self.wire = Wire(prefix)
        self.max_batch = max_batch
        self.latest_interval = latest_interval
        self.max_age = max_age
        self.duplicate_window = duplicate_window
        self.quotes_per_subject = quotes_per_subject
        self.rpc_enabled = rpc
        self.monitor_interval = monitor_interval
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.metrics = BridgeMetrics()
        self.metrics_port = metrics_port
        #: This run's id: the ``Fx-Epoch`` of its quotes, and in ``status.<account>``.
        self.epoch = uuid.uuid4().hex[:12]
        self._metrics_wanted = metrics_port is not None
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._pumps: dict[str, AccountPump] = {}
        self._publisher: Publisher | None = None
        self._rpc: RpcServer | None = None
        self._failed = asyncio.Event()
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"Bridge(prefix={self.wire.prefix!r}, accounts={self.accounts!r})"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.aclose()

    @property
    def nc(self) -> NatsClient:
        if self._nc is None:
            raise BridgeUnavailableError("the bridge is not started")
        return self._nc

    async def start(self) -> None:
        """Connect, set up streams and buckets, recover, then publish in the background.

        Call ``aclose()`` from the same task (``async with Bridge(...)`` does both):
        the background tasks live in a task group entered here.

        Raises ``BridgeUnavailableError`` when NATS/JetStream cannot be reached
        or refuses the streams' configuration.
        """
        failure = ""
        self._nc = nc = NatsClient()
        try:
            # Bounded: with reconnects allowed, nats-py would retry a first connection
            # that never succeeds forever.
            await asyncio.wait_for(
                nc.connect(
                    servers=self.servers, name=f"fxsocket-bridge-{self.epoch}",
                    connect_timeout=max(1, round(self.connect_timeout)), allow_reconnect=True,
                    max_reconnect_attempts=-1, reconnect_time_wait=0.25,  # type: ignore[arg-type]
                    error_cb=_nats_trouble,
                ),
                self.connect_timeout,
            )  # fmt: skip
            self._js = js = nc.jetstream()
            kvs = await self._setup(js)
        except TimeoutError:
            failure = f"no server accepted within {self.connect_timeout:g} s"
        except (NatsError, OSError) as exc:
            failure = f"{type(exc).__name__}: {exc}"
        if failure:
            await self._close_nats()
            raise BridgeUnavailableError(f"NATS at {', '.join(self.servers)}: {failure}")
        state_kv, orders_kv = kvs
        if self._metrics_wanted:
            self.metrics_port = self.metrics.serve(self.metrics_port or 0)
        self._publisher = Publisher(
            nc, js, self.wire, self.metrics, epoch=self.epoch, max_batch=self.max_batch,
            latest_interval=self.latest_interval, publish_timeout=self.publish_timeout,
        )  # fmt: skip
        # Every background task, RPC requests included, belongs to this one group,
        # entered here and left in aclose() (the same task: use ``async with``).
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        if self.rpc_enabled:
            self._rpc = RpcServer(
                self.fx, nc, self.wire, self.accounts, orders_kv, self.metrics, self._spawn
            )
            try:
                await self._rpc.start()
            except (NatsError, TimeoutError) as exc:
                failure = f"cannot subscribe to the RPC subjects: {type(exc).__name__}"
            if failure:
                await self.aclose()
                raise BridgeUnavailableError(f"NATS at {', '.join(self.servers)}: {failure}")
        self._spawn(self._publisher.run_latest, name="bridge latest quotes")
        for account in self.accounts:
            pump = AccountPump(
                self.fx, account, self._publisher, state_kv, self.metrics, epoch=self.epoch
            )
            self._pumps[account] = pump
            self._spawn(pump.run, name=f"bridge events {account}")
            if self.symbols:
                self._spawn(self._run_quotes, account, name=f"bridge quotes {account}")
        monitor = functools.partial(
            run_monitor, self.fx, js, state_kv, self.wire, self._pumps, self.metrics,
            epoch=self.epoch, interval=self.monitor_interval,
        )  # fmt: skip
        self._spawn(monitor, name="bridge monitor")

    async def _setup(self, js: JetStreamContext) -> tuple[Any, Any]:
        w = self.wire
        await _ensure_stream(js, StreamConfig(
            name=w.events_stream, subjects=[w.events_subjects], storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS, max_age=self.max_age.total_seconds(),
            duplicate_window=self.duplicate_window.total_seconds(),
        ))  # fmt: skip
        await _ensure_stream(js, StreamConfig(
            name=w.quotes_stream, subjects=[w.quotes_subjects], storage=StorageType.MEMORY,
            retention=RetentionPolicy.LIMITS, discard=DiscardPolicy.OLD,
            max_msgs_per_subject=self.quotes_per_subject, duplicate_window=1.0,
        ))  # fmt: skip
        await _ensure_kv(
            js, KeyValueConfig(bucket=w.latest_bucket, history=1, storage=StorageType.FILE)
        )
        state_kv = await _ensure_kv(
            js, KeyValueConfig(bucket=w.bridge_bucket, history=1, storage=StorageType.FILE)
        )
        orders_kv = await _ensure_kv(js, KeyValueConfig(
            bucket=w.orders_bucket, history=1, storage=StorageType.FILE,
            ttl=self.duplicate_window.total_seconds(),
        ))  # fmt: skip
        return state_kv, orders_kv

    def _spawn(self, fn: Callable[..., Awaitable[None]], *args: Any, name: str) -> None:
        if self._group is None:
            # A request nats-py had queued before the RPC subscriptions ended: the bridge
            # is stopping, so it goes unanswered and its caller retries elsewhere.
            log.debug("%s not started: the bridge is stopping", name)
            return
        self._group.start_soon(self._guarded, fn, *args, name=name)

    async def _guarded(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        # A failed task is recorded for wait() and the bridge goes on with the others:
        # one account's trouble must not cancel its siblings (nor the user's block).
        try:
            await fn(*args)
        except Exception as exc:
            while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
                inner = exc.exceptions[0]
                if not isinstance(inner, Exception):
                    break
                exc = inner
            log.error("a bridge task failed: %r", exc)
            self._error = self._error or exc
            self._failed.set()

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait until every account is recovered and publishing live.

        Raises our ``TimeoutError`` when that takes longer than ``timeout``.
        """
        from .._exceptions import TimeoutError as FxTimeoutError

        # Each pump's event in turn: all must be set, so the waits add up to the longest.
        # (A gather would leave an unretrieved CancelledError behind when cancelled.)
        with anyio.move_on_after(timeout) as deadline:
            for pump in self._pumps.values():
                await pump.ready.wait()
        if deadline.cancelled_caught:
            raise FxTimeoutError(f"the bridge was not ready within {timeout:g} s")

    async def wait(self) -> None:
        """Run until a background task fails; raises that failure (as ours)."""
        await self._failed.wait()
        exc = self._error
        if isinstance(exc, FxSocketError):
            raise exc
        raise BridgeUnavailableError(f"the bridge failed: {type(exc).__name__}")

    async def _run_quotes(self, account: str) -> None:
        assert self._publisher is not None
        delays = _RESUBSCRIBE.delays(random.Random())
        for _ in range(1_000_000):  # bounded; each round lasts while the subscription does
            try:
                async with self.fx.quotes(*self.symbols, account=account, mode="all",
                                          buffer=_QUOTE_BUFFER) as quotes:  # fmt: skip
                    async for batch in quotes.batches():
                        await self._publisher.publish_quotes(account, batch)
            except ConsumerOverflowError as exc:
                self.metrics.quotes_dropped.labels(account).inc(_QUOTE_BUFFER)
                log.warning("quotes of %s overflowed (%s); subscribing again", account, exc)
            except FxSocketError as exc:
                log.warning("quotes of %s ended (%s); subscribing again", account, exc)
                await asyncio.sleep(next(delays))

    async def aclose(self, timeout: float = 5.0) -> None:
        """Stop: answer no more requests, stop publishing, save state, drain NATS.

        Shielded from an outer cancellation (a Ctrl-C still saves the recovery
        state); each step is bounded by ``timeout``. Raises nothing of its own.
        """
        if self._rpc is not None:
            with anyio.CancelScope(shield=True):
                await self._rpc.stop(timeout)
            self._rpc = None
        group, self._group = self._group, None
        try:
            if group is not None:
                # anyio re-delivers the cancellation until each task has ended, so a task
                # whose asyncio.wait_for swallowed one (Python 3.11) cannot outlive it.
                group.cancel_scope.cancel()
                await group.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish(timeout)

    async def _finish(self, timeout: float) -> None:
        if self._publisher is not None and self._nc is not None and self._nc.is_connected:
            with contextlib.suppress(NatsError, asyncio.TimeoutError):
                await self._publisher.flush_latest()
                for pump in self._pumps.values():
                    await pump.save()
                await self._publisher.drain(timeout)
        await self._close_nats()
        self.metrics.close()

    async def _close_nats(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(NatsError, asyncio.TimeoutError):
                await asyncio.wait_for(nc.drain(), 5.0)
            with contextlib.suppress(NatsError, asyncio.TimeoutError):
                await nc.close()


async def _nats_trouble(exc: Exception) -> None:
    # nats-py's default prints a traceback per failed attempt; one INFO line says enough
    # (reconnects are in the metrics), and only the type: its text may hold user:pass.
    log.info("NATS: %s", type(exc).__name__)


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except JsBadRequestError:
        # It exists with another configuration (an operator's: replicas, limits):
        # theirs stands.
        log.info("stream %s exists with its own configuration; keeping it", config.name)


async def _ensure_kv(js: JetStreamContext, config: KeyValueConfig) -> Any:
    try:
        return await js.key_value(config.bucket)
    except (JsNotFoundError, NatsError):
        return await js.create_key_value(config)
