"""The terminal dialect's WebSocket side: each account's sockets, their topics, the pushes.

A socket serves one account (``/terminal/{account_id}/ws?api_key=...``).
Client messages are ``{"action": "subscribe" | "unsubscribe", "topic", "symbol",
"timeframe"}`` and ``{"action": "list"}``; every one is answered, in order
(``subscribed`` / ``unsubscribed`` / ``error`` ``{topic, message}``,
``subscriptions`` ``{data}``). Pushes: ``tick`` and ``bar`` on every price
move of a subscribed symbol while the account is connected (a ``bar`` is the
forming bar's state), ``account`` whenever the engine sends the reference
dialect's ``account`` event, ``positions`` (the whole list) on subscribe and
on every order change, ``trade`` per deal, ``terminal`` on subscribe, on a
status change and every ``terminal_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from typing import Any, Final

import msgspec
from aiohttp import WSMsgType, web

from .._core.codec import encode
from .._core.events import AccountEvent, AccountStatusChanged, AccountUpdate
from .._core.models import Quote
from ._config import ApiKey, SimulatorConfig
from ._engine import Engine
from ._records import AccountRecord, DealRecord
from ._terminal_socket import Sub, TerminalSocket
from ._terminal_views import (
    TERMINAL_TIMEFRAMES,
    account_summary,
    candles,
    opened_orders,
    terminal_status,
    trade_event,
)
from ._terminal_wire import (
    AccountFrame,
    BarFrame,
    ErrorFrame,
    PositionsFrame,
    SubscribedFrame,
    SubscriptionsFrame,
    TerminalFrame,
    TickFrame,
    TQuote,
    TradeFrame,
    TSubscription,
    UnsubscribedFrame,
    broker_time,
)

__all__ = ["TOPICS", "TerminalHub", "TerminalSubscription"]

TOPICS: Final = ("prices", "bars", "account", "positions", "trades", "terminal")
#: One subscription as ``Simulator.terminal_subscriptions()`` lists it.
TerminalSubscription = tuple[str, str, str, str]  # (account_id, topic, symbol, timeframe)


def read_subscription(
    message: dict[str, Any], symbols: Collection[str], *, check_symbol: bool
) -> tuple[Sub | None, str]:
    """The subscription a subscribe or unsubscribe message names, or ``None`` and why not."""
    topic, symbol, timeframe = (message.get(k) for k in ("topic", "symbol", "timeframe"))
    if topic not in TOPICS:
        return None, f"unknown topic {topic!r}; use one of {', '.join(TOPICS)}"
    if topic not in ("prices", "bars"):
        return (topic, "", ""), ""
    if not isinstance(symbol, str) or not symbol:
        return None, f"topic {topic!r} requires a symbol"
    if check_symbol and symbol not in symbols:
        known = ", ".join(sorted(symbols))
        return None, f"unknown symbol {symbol!r}; known: {known}"
    if topic == "prices":
        return (topic, symbol, ""), ""
    if timeframe not in TERMINAL_TIMEFRAMES:
        allowed = ", ".join(TERMINAL_TIMEFRAMES)
        return None, f"topic 'bars' requires a timeframe, one of {allowed}; got {timeframe!r}"
    return (topic, symbol, timeframe), ""


def describe(sub: Sub) -> str:
    return " ".join(part for part in sub if part)


class _Sockets:
    """The sockets' state a test reads and steers: their subscriptions and faults."""

    sockets: set[TerminalSocket]
    # Fault state, per account id; None: every socket.
    _muted: set[str | None]
    _frozen: set[str | None]
    _stalled: set[str | None]

    # ------------------------------------------------------------ queries

    def subscriptions(self, account: str | None = None) -> list[TerminalSubscription]:
        held = {
            (sock.account_id, *sub)
            for sock in self.sockets
            if account is None or sock.account_id == account
            for sub in sock.subscriptions
        }
        return sorted(held)

    def reference_view(self) -> set[tuple[str, str, tuple[str, ...]]]:
        """What the terminal sockets hold, in the reference dialect's terms.

        ``prices`` are ``quotes`` (an account's symbols together), ``trades``
        and ``positions`` are ``orders``, ``account`` is ``account``; ``bars``
        and ``terminal`` have no counterpart and are left out.
        """
        quotes: dict[str, set[str]] = {}
        held: set[tuple[str, str, tuple[str, ...]]] = set()
        for sock in self.sockets:
            for topic, symbol, _ in sock.subscriptions:
                if topic == "prices":
                    quotes.setdefault(sock.account_id, set()).add(symbol)
                elif topic in ("trades", "positions"):
                    held.add((sock.account_id, "orders", ()))
                elif topic == "account":
                    held.add((sock.account_id, "account", ()))
        held.update((account, "quotes", tuple(sorted(s))) for account, s in quotes.items())
        return held

    def of(self, account: str | None) -> list[TerminalSocket]:
        return [s for s in self.sockets if account is None or s.account_id == account]

    @staticmethod
    def _flagged(flags: set[str | None], sock: TerminalSocket) -> bool:
        return None in flags or sock.account_id in flags

    def _push(self, sock: TerminalSocket, frame: bytes, *, data: bool, droppable: bool) -> None:
        if self._flagged(self._frozen, sock) or (data and self._flagged(self._muted, sock)):
            return
        sock.push(frame, droppable=droppable)

    # ------------------------------------------------------------- faults

    def drop(self, account: str | None) -> None:
        for sock in self.of(account):
            sock.abort()

    def mute(self, account: str | None, *, frozen: bool) -> None:
        self._muted.add(account)
        if frozen:
            self._frozen.add(account)
        else:
            self._frozen.discard(account)

    def unmute(self, account: str | None) -> None:
        if account is None:
            self._muted.clear()
            self._frozen.clear()
        else:
            self._muted.discard(account)
            self._frozen.discard(account)

    def send_raw(self, text: str, account: str | None) -> None:
        frame = text.encode()
        for sock in self.of(account):
            self._push(sock, frame, data=False, droppable=False)

    def stall(self, account: str | None) -> None:
        self._stalled.add(account)
        for sock in self.of(account):
            sock.set_stalled(True)

    def resume(self, account: str | None) -> None:
        if account is None:
            self._stalled.clear()
        else:
            self._stalled.discard(account)
        for sock in self.sockets:
            sock.set_stalled(self._flagged(self._stalled, sock))

    def forget_account(self, account_id: str) -> None:
        """The account was unlinked: its terminal goes away (close 1001)."""
        for sock in self.of(account_id):
            sock.close_soon(1001)


class TerminalHub(_Sockets):
    """Every terminal socket, what it holds, and the frames the engine's changes make."""

    def __init__(
        self,
        engine: Engine,
        config: SimulatorConfig,
        on_change: Callable[[], None] | None = None,
        on_connection: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        # Told of every subscription and connection change too (the reference hub's waiters).
        self._on_change = on_change
        self._on_connection = on_connection
        self._limit = config.terminal_queue_limit
        self.sockets: set[TerminalSocket] = set()
        # (account_id, topic) -> sockets, for the account's own topics
        self._topics: defaultdict[tuple[str, str], set[TerminalSocket]] = defaultdict(set)
        # symbol -> sockets (prices); symbol -> timeframe -> sockets (bars)
        self._prices: defaultdict[str, set[TerminalSocket]] = defaultdict(set)
        self._bars: defaultdict[str, defaultdict[str, set[TerminalSocket]]] = defaultdict(
            lambda: defaultdict(set)
        )
        # Fault state, per account id; None: every socket.
        self._muted: set[str | None] = set()
        self._frozen: set[str | None] = set()
        self._stalled: set[str | None] = set()
        # Set, then replaced, on every change: a waiter re-checks and waits on the new one.
        self.connection_changed = asyncio.Event()
        self.subscription_changed = asyncio.Event()

    # ------------------------------------------------------------ sending

    def _reply(self, sock: TerminalSocket, message: msgspec.Struct) -> None:
        self._push(sock, encode(message), data=False, droppable=False)

    def _fan_out(self, account_id: str, topic: str, frame: bytes) -> None:
        for sock in self._topics.get((account_id, topic), ()):
            self._push(sock, frame, data=True, droppable=False)

    def observe(self, account: AccountRecord, event: AccountEvent | DealRecord) -> None:
        """The engine's hook: every per-account event and deal, as it happens."""
        account_id = account.id
        if isinstance(event, DealRecord):
            if self._topics.get((account_id, "trades")):
                frame = encode(TradeFrame(data=trade_event(account, event)))
                self._fan_out(account_id, "trades", frame)
        elif isinstance(event, AccountUpdate):
            if self._topics.get((account_id, "account")):
                frame = encode(AccountFrame(data=account_summary(self.engine, account)))
                self._fan_out(account_id, "account", frame)
        elif isinstance(event, AccountStatusChanged):
            if self._topics.get((account_id, "terminal")):
                frame = encode(TerminalFrame(data=terminal_status(self.engine, account)))
                self._fan_out(account_id, "terminal", frame)
        elif self._topics.get((account_id, "positions")):
            frame = encode(PositionsFrame(data=opened_orders(self.engine, account)))
            self._fan_out(account_id, "positions", frame)

    def _connected(self, account_id: str) -> bool:
        account = self.engine.registry.get(account_id)
        return account is not None and account.status == "connected"

    def on_quotes(self, quotes: Iterable[Quote]) -> None:
        """Push ``tick`` and ``bar`` frames for the symbols that moved."""
        for quote in quotes:
            symbol = quote.symbol
            socks = self._prices.get(symbol)
            if socks:
                data = TQuote(
                    symbol=symbol, bid=quote.bid, ask=quote.ask, time=broker_time(quote.time)
                )
                frame = encode(TickFrame(symbol=symbol, data=data))
                for sock in socks:
                    if self._connected(sock.account_id):
                        self._push(sock, frame, data=True, droppable=True)
            for timeframe, socks in self._bars.get(symbol, {}).items():
                if not socks:
                    continue
                bar = candles(self.engine, symbol, timeframe, start=None, end=None, limit=1)[-1]
                frame = encode(BarFrame(symbol=symbol, timeframe=timeframe, data=bar))
                for sock in socks:
                    if self._connected(sock.account_id):
                        self._push(sock, frame, data=True, droppable=True)

    def push_terminal_status(self) -> None:
        """The periodic ``terminal`` push, to every socket subscribed to it."""
        for (account_id, topic), socks in list(self._topics.items()):
            account = self.engine.registry.get(account_id)
            if topic != "terminal" or not socks or account is None:
                continue
            self._fan_out(account_id, "terminal", encode(self._terminal_frame(account)))

    def _terminal_frame(self, account: AccountRecord) -> TerminalFrame:
        return TerminalFrame(data=terminal_status(self.engine, account))

    # -------------------------------------------------------- connections

    async def serve(
        self, request: web.Request, account_id: str, api_key: ApiKey
    ) -> web.WebSocketResponse:
        # autoping off: a frozen socket must be able to leave protocol pings unanswered.
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        sock = TerminalSocket(
            ws=ws, request=request, account_id=account_id, api_key=api_key, limit=self._limit
        )
        sock.stalled = self._flagged(self._stalled, sock)
        self.sockets.add(sock)
        self._changed()
        writer = asyncio.get_running_loop().create_task(sock.write())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._handle(sock, msg.data)
                elif msg.type == WSMsgType.PING:
                    if not self._flagged(self._frozen, sock):
                        await ws.pong(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._reply(sock, ErrorFrame(topic="", message="send JSON text frames"))
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._disconnect(sock)
            if not ws.closed:
                await ws.close()
        return ws

    def _disconnect(self, sock: TerminalSocket) -> None:
        for sub in list(sock.subscriptions):
            self._remove(sock, sub)
        self.sockets.discard(sock)
        self._changed()

    def _changed(self) -> None:
        self.connection_changed.set()
        self.connection_changed = asyncio.Event()
        if self._on_connection is not None:
            self._on_connection()

    def _subscriptions_changed(self) -> None:
        self.subscription_changed.set()
        self.subscription_changed = asyncio.Event()
        if self._on_change is not None:
            self._on_change()

    # ----------------------------------------------------------- messages

    def _handle(self, sock: TerminalSocket, text: str) -> None:
        try:
            message: Any = msgspec.json.decode(text)
        except (msgspec.DecodeError, RecursionError):
            self._reply(sock, ErrorFrame(topic="", message="invalid message: not JSON"))
            return
        if not isinstance(message, dict):
            self._reply(sock, ErrorFrame(topic="", message="invalid message: not a JSON object"))
            return
        action = message.get("action")
        if action == "list":
            data = [
                TSubscription(topic=topic, symbol=symbol or None, timeframe=timeframe or None)
                for topic, symbol, timeframe in sorted(sock.subscriptions)
            ]
            self._reply(sock, SubscriptionsFrame(data=data))
            return
        topic = message.get("topic")
        shown = topic if isinstance(topic, str) else ""
        if action not in ("subscribe", "unsubscribe"):
            text = f"unknown action {action!r}; use subscribe, unsubscribe or list"
            self._reply(sock, ErrorFrame(topic=shown, message=text))
            return
        sub, refusal = read_subscription(
            message, self.engine.market.specs, check_symbol=action == "subscribe"
        )
        if sub is None:
            self._reply(sock, ErrorFrame(topic=shown, message=refusal))
        elif action == "subscribe":
            self._subscribe(sock, sub)
        else:
            self._unsubscribe(sock, sub)

    def _subscribe(self, sock: TerminalSocket, sub: Sub) -> None:
        topic, symbol, timeframe = sub
        known = sub in sock.subscriptions
        if not known:
            sock.subscriptions.add(sub)
            if topic == "prices":
                self._prices[symbol].add(sock)
            elif topic == "bars":
                self._bars[symbol][timeframe].add(sock)
            else:
                self._topics[(sock.account_id, topic)].add(sock)
            self._subscriptions_changed()
        prefix = "already subscribed to" if known else "subscribed to"
        self._reply(sock, SubscribedFrame(topic=topic, message=f"{prefix} {describe(sub)}"))
        # The snapshot topics answer with the state at once, duplicates included.
        account = self.engine.registry.get(sock.account_id)
        if account is None:
            return
        if topic == "positions":
            frame = PositionsFrame(data=opened_orders(self.engine, account))
            self._push(sock, encode(frame), data=True, droppable=False)
        elif topic == "terminal":
            self._push(sock, encode(self._terminal_frame(account)), data=True, droppable=False)

    def _unsubscribe(self, sock: TerminalSocket, sub: Sub) -> None:
        held = sub in sock.subscriptions
        if held:
            self._remove(sock, sub)
        prefix = "unsubscribed from" if held else "was not subscribed to"
        self._reply(sock, UnsubscribedFrame(topic=sub[0], message=f"{prefix} {describe(sub)}"))

    def _remove(self, sock: TerminalSocket, sub: Sub) -> None:
        topic, symbol, timeframe = sub
        sock.subscriptions.discard(sub)
        if topic == "prices":
            holders = self._prices.get(symbol)
            if holders is not None:
                holders.discard(sock)
                if not holders:
                    del self._prices[symbol]
        elif topic == "bars":
            frames = self._bars.get(symbol)
            if frames is not None:
                frames.get(timeframe, set()).discard(sock)
                if not frames.get(timeframe, True):
                    del frames[timeframe]
                if not frames:
                    del self._bars[symbol]
        else:
            key = (sock.account_id, topic)
            holders = self._topics.get(key)
            if holders is not None:
                holders.discard(sock)
                if not holders:
                    del self._topics[key]
        self._subscriptions_changed()
