"""``Simulator``: runs the simulated service on a real socket, with steering handles."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import anyio
from aiohttp import web

from .._core.events import AccountEvent
from .._core.models import Account, LinkAccountRequest, Quote
from ._app import Stats, build_app
from ._config import SimulatorConfig
from ._engine import Engine
from ._errors import SimError
from ._faults import Faults
from ._market import Market
from ._ratelimit import RateLimiter
from ._records import Cancel
from ._stream import StreamHub

__all__ = ["Simulator"]

#: One subscription as ``Simulator.subscriptions()`` lists it: (account_id, channel, symbols).
Subscription = tuple[str, str, tuple[str, ...]]

log = logging.getLogger("fxsocket_async.simulator")


class Simulator:
    """A local FxSocket server. Use ``async with Simulator(config) as sim:``.

    ``sim.base_url`` and ``sim.ws_url`` point at it; the other methods steer it
    (docs/simulator.md lists them). ``port=0`` picks a free port. ``monotonic``
    is the clock of its rate limit, account-update throttle and timed
    handshake refusals (a test can share a fake clock with the client's pacing).
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or SimulatorConfig()
        self._host = host
        self._port = port
        self._access_log = access_log
        self.market = Market(self.config.symbols, seed=self.config.seed, now=self._broker_now)
        self.engine = Engine(
            self.config,
            self.market,
            now=self._broker_now,
            monotonic=monotonic,
            schedule=self._schedule,
            publish=self._publish,
        )
        self._hub = StreamHub(self.engine)
        self.faults = Faults(self._hub, monotonic)
        self.stats = Stats()
        limiter = RateLimiter(self.config.rate_limit, monotonic) if self.config.rate_limit else None
        self._app = build_app(
            self.engine,
            self._hub,
            self.faults,
            self.stats,
            {k.key: k for k in self.config.api_keys},
            limiter,
        )
        self._runner: web.AppRunner | None = None
        self._stack = contextlib.AsyncExitStack()
        self.base_url = ""
        self.ws_url = ""

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen and start the market clock."""
        runner = web.AppRunner(
            self._app,
            access_log=logging.getLogger("fxsocket_async.simulator.access")
            if self._access_log
            else None,
            handle_signals=False,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"
        self.ws_url = f"ws://{shown}:{port}/v1/stream"
        tasks = await self._stack.enter_async_context(anyio.create_task_group())
        self._stack.callback(tasks.cancel_scope.cancel)
        if self.config.quote_interval:
            tasks.start_soon(self._run_market, self.config.quote_interval)
        log.info("simulator listening on %s", self.base_url)

    async def close(self) -> None:
        """Stop the market clock, close every connection and stop listening."""
        await self._stack.aclose()
        if self._runner is not None:
            self._hub.drop_connections()
            await self._runner.cleanup()
            self._runner = None

    async def _run_market(self, interval: float) -> None:
        while True:
            await anyio.sleep(interval)
            self._on_quotes(self.market.step())

    # ---------------------------------------------------------- plumbing

    def _broker_now(self) -> datetime:
        # The broker's server time, labelled UTC, to the millisecond as MT5 reports it.
        now = datetime.now(UTC) + timedelta(hours=self.config.broker_utc_offset)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _schedule(self, delay: float, callback: Callable[[], None]) -> Cancel:
        return asyncio.get_running_loop().call_later(delay, callback)

    def _publish(self, account_id: str, channel: str, frame: bytes) -> None:
        self._hub.publish(account_id, channel, frame)

    def _on_quotes(self, quotes: list[Quote]) -> None:
        self.engine.on_quotes(quotes)
        self._hub.publish_quotes(quotes)

    # ------------------------------------------------------------ steering

    def accounts(self, owner: str = "default") -> list[Account]:
        """The accounts linked by keys of ``owner``."""
        return self.engine.accounts(owner)

    def link_account(
        self,
        server: str,
        login: int,
        *,
        nickname: str = "",
        password: str = "simulator",
        owner: str | None = None,
        connected: bool = True,
    ) -> Account:
        """Link an account as ``POST /v1/accounts`` does, for ``owner`` (default: the
        first key's owner); with ``connected`` its terminal is up at once.

        A ``-Broken`` server fails provisioning (status ``error``). Raises
        ``ValueError`` with the refusal a link over REST would get (such as
        ``[409 already_linked] ...``).
        """
        owner = self.config.api_keys[0].owner if owner is None else owner
        request = LinkAccountRequest(
            server=server, login=login, password=password, nickname=nickname or None
        )
        try:
            account = self.engine.link(owner, request)
        except SimError as exc:
            raise ValueError(f"[{exc.status} {exc.code}] {exc.message}") from None
        if connected:
            self.engine.complete_provisioning(account.id)
        return self.engine.account(owner, account.id)

    def complete_provisioning(self, account_id: str) -> None:
        """Finish a connecting account's provisioning now (fails for ``-Broken`` servers)."""
        self.engine.complete_provisioning(account_id)

    def set_account_status(self, account_id: str, status: str, error: str = "") -> None:
        """Move an account to ``status``; an ``account_status`` event follows."""
        self.engine.set_status(account_id, status, error)

    def set_price(self, symbol: str, bid: float, ask: float | None = None) -> Quote:
        """Move a price now; pending orders, SL/TP and quote subscribers react."""
        quote = self.market.set_price(symbol, bid, ask)
        self._on_quotes([quote])
        return quote

    def tick(self, symbols: Iterable[str] | None = None) -> list[Quote]:
        """Advance the random walk one step now."""
        quotes = self.market.step(symbols)
        self._on_quotes(quotes)
        return quotes

    def price(self, symbol: str) -> Quote:
        """The current quote of ``symbol``."""
        return self.market.quote(symbol)

    def subscriptions(self) -> list[Subscription]:
        """What the stream's connections are subscribed to: (account_id, channel, symbols)."""
        return self._hub.subscriptions()

    def routes(self) -> list[tuple[str, str]]:
        """Every route served, as sorted ``(method, path template)`` pairs.

        ``/v1/stream`` is the WebSocket handshake; docs/openapi.json describes the rest.
        """
        served = {
            (route.method, route.resource.canonical)
            for route in self._app.router.routes()
            if route.resource is not None
        }
        return sorted(served)

    def ledger(self, account_id: str) -> list[AccountEvent]:
        """Every per-account event the server emitted for the account, in ``seq`` order."""
        return self.engine.ledger(account_id)

    async def wait_for_ws_connections(self, count: int, timeout: float = 5.0) -> None:
        """Wait until exactly ``count`` WebSocket connections are open.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        with anyio.fail_after(timeout):
            while len(self._hub.connections) != count:
                await self._hub.connection_changed.wait()

    async def wait_for_subscriptions(
        self,
        expected: Sequence[Subscription] | Callable[[list[Subscription]], bool],
        timeout: float = 5.0,
    ) -> None:
        """Wait until ``subscriptions()`` equals ``expected``, or ``expected(subs)`` is true.

        ``expected`` is either the ``(account_id, channel, symbols)`` tuples to
        hold, in any order, or a predicate called with ``subscriptions()``
        after every change. Raises ``TimeoutError`` after ``timeout`` seconds,
        with the subscriptions of that moment in its message.
        """
        if callable(expected):
            holds, wanted = expected, "the predicate to hold"
        else:
            target = sorted((a, c, tuple(sorted(s))) for a, c, s in expected)
            holds, wanted = target.__eq__, repr(target)
        try:
            with anyio.fail_after(timeout):
                while not holds(self._hub.subscriptions()):
                    await self._hub.subscription_changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"waited {timeout} s for {wanted}; the subscriptions are "
                f"{self._hub.subscriptions()!r}"
            ) from None
