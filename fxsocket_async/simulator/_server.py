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
from .._core.models import Account, Quote
from ._access_log import MaskedAccessLogger
from ._account_json import TerminalUrls
from ._app import build_app
from ._config import SimulatorConfig
from ._engine import Engine
from ._errors import SimError
from ._faults import Faults
from ._market import Market
from ._ratelimit import RateLimiter
from ._records import AccountRecord, Cancel, DealRecord
from ._replay import Replay, Streams
from ._requests import LinkBody
from ._steering import TerminalSteering
from ._stream import StreamHub
from ._terminal_stream import TerminalHub
from ._web import Stats

__all__ = ["Simulator"]

#: One subscription as ``Simulator.subscriptions()`` lists it: (account_id, channel, symbols).
Subscription = tuple[str, str, tuple[str, ...]]

log = logging.getLogger("fxsocket_async.simulator")


class Simulator(TerminalSteering):
    """A local FxSocket server. Use ``async with Simulator(config) as sim:``.

    ``sim.base_url`` and ``sim.ws_url`` point at it; the other methods steer it
    (docs/simulator.md lists them). ``port=0`` picks a free port. ``monotonic``
    is the clock of its rate limit, account-update throttle and timed
    handshake refusals (a test can share a fake clock with the client's pacing).
    Both dialects are served from one market and one engine: each linked
    account's terminal lives under ``{base_url}/terminal/{account_id}``
    (``SimulatorConfig.terminal=False`` serves the reference dialect alone).
    With ``SimulatorConfig.replay`` the market is an archive's ticks, steered
    through ``sim.replay`` (docs/simulator.md, "Replay"); the archive is read
    here, so a bad one raises ``ReplayError`` (a ``ValueError``) at once.
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
        config = self.config
        self.replay: Replay | None = None
        if config.replay is not None:
            self.replay = Replay.open(config.replay, config.symbols, config.seed)
        self.market = Market(
            self.replay.specs if self.replay else config.symbols,
            seed=config.seed,
            now=self._broker_now,
            opening=self.replay.opening if self.replay else None,
        )
        self._urls = TerminalUrls()
        self.engine = Engine(
            self.config,
            self.market,
            now=self._broker_now,
            monotonic=monotonic,
            schedule=self._schedule,
            publish=self._publish,
            observe=self._observe,
            urls=self._urls if self.config.terminal else None,
            wall=self._wall_now,
        )
        self._hub = StreamHub(self.engine)
        self._terminals = TerminalHub(
            self.engine,
            self.config,
            on_change=self._hub.touch_subscriptions,
            on_connection=self._hub.touch_connections,
        )
        self.faults = Faults(self._hub, self._terminals, monotonic)
        self.stats = Stats()
        limiter = RateLimiter(self.config.rate_limit, monotonic) if self.config.rate_limit else None
        self._app = build_app(
            self.config,
            self.engine,
            self._hub,
            self._terminals,
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
            access_log_class=MaskedAccessLogger,
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
        self._urls.bind(self.base_url)
        tasks = await self._stack.enter_async_context(anyio.create_task_group())
        self._stack.callback(tasks.cancel_scope.cancel)
        if self.replay is not None:
            streams = Streams(self._hub, self._terminals, self.config.terminal_queue_limit)
            tasks.start_soon(self.replay.run, self.market, self._on_quotes, streams)
        elif self.config.quote_interval:
            tasks.start_soon(self._run_market, self.config.quote_interval)
        if self.config.terminal and self.config.terminal_interval:
            tasks.start_soon(self._run_terminal_status, self.config.terminal_interval)
        log.info("simulator listening on %s", self.base_url)

    async def close(self) -> None:
        """Stop the market clock, close every connection and stop listening."""
        await self._stack.aclose()
        if self._runner is not None:
            self._hub.drop_connections()
            self._terminals.drop(None)
            await self._runner.cleanup()
            self._runner = None

    async def _run_market(self, interval: float) -> None:
        while True:
            await anyio.sleep(interval)
            self._on_quotes(self.market.step())

    async def _run_terminal_status(self, interval: float) -> None:
        while True:
            await anyio.sleep(interval)
            self._terminals.push_terminal_status()

    # ---------------------------------------------------------- plumbing

    def _broker_now(self) -> datetime:
        # A replay's broker clock is its recorded times (offset included, as recorded).
        return self.replay.now() if self.replay is not None else self._wall_now()

    def _wall_now(self) -> datetime:
        # The broker's server time, labelled UTC, to the millisecond as MT5 reports it.
        now = datetime.now(UTC) + timedelta(hours=self.config.broker_utc_offset)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _schedule(self, delay: float, callback: Callable[[], None]) -> Cancel:
        return asyncio.get_running_loop().call_later(delay, callback)

    def _publish(self, account_id: str, channel: str, frame: bytes) -> None:
        self._hub.publish(account_id, channel, frame)

    def _observe(self, account: AccountRecord, event: AccountEvent | DealRecord) -> None:
        self._terminals.observe(account, event)

    def _on_quotes(self, quotes: list[Quote]) -> None:
        self.engine.on_quotes(quotes)
        self._hub.publish_quotes(quotes)
        self._terminals.on_quotes(quotes)

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
        platform: str = "mt5",
    ) -> Account:
        """Link an account as ``POST /v1/accounts`` does, for ``owner`` (default: the
        first key's owner); with ``connected`` its terminal is up at once.
        ``platform`` is ``mt5`` or ``mt4``.

        A ``-Broken`` server fails provisioning (status ``error``). Raises
        ``ValueError`` with the refusal a link over REST would get (such as
        ``[409 already_linked] ...``).
        """
        owner = self.config.api_keys[0].owner if owner is None else owner
        request = LinkBody(
            server=server, login=login, password=password, nickname=nickname, platform=platform
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
        """What the server holds for each account, as sorted (account_id, channel, symbols).

        The reference stream's subscriptions, and the terminal sockets' in the
        reference dialect's terms (``prices`` as ``quotes``, ``trades`` and
        ``positions`` as ``orders``, ``account``), so a test waits the same
        way whichever dialect its client speaks. ``terminal_subscriptions()``
        has the terminal sockets' own.
        """
        return sorted(set(self._hub.subscriptions()) | self._terminals.reference_view())

    def routes(self) -> list[tuple[str, str]]:
        """Every route served, as sorted ``(method, path template)`` pairs.

        ``/v1/stream`` and ``/terminal/{account_id}/ws`` are WebSocket
        handshakes; docs/openapi.json describes the reference dialect's routes
        and docs/openapi-terminal.json the terminal's (``/terminal/...``).
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
        """Wait until exactly ``count`` WebSocket connections are open (the reference
        stream's and the terminal sockets together, as ``stats.ws_connections``).

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        with anyio.fail_after(timeout):
            while len(self._hub.connections) + len(self._terminals.sockets) != count:
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
                while not holds(self.subscriptions()):
                    await self._hub.subscription_changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"waited {timeout} s for {wanted}; the subscriptions are {self.subscriptions()!r}"
            ) from None
