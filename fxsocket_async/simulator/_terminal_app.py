"""The terminal dialect's routes: each account's REST API and WebSocket under its ``rest_url``.

``rest_url`` is ``{base_url}/terminal/{account_id}``; the routes below are the
vendor SDK's paths under it (``/AccountSummary``, ``/OrderSend``, ...), and
``/ws`` its WebSocket. A request is checked in this order: authentication
(401; a key of another owner is 401 too, as the vendor SDK documents a
terminal's answer to a key that may not see the account), the key's scope
(403: ``read`` keys may not trade), the account (404 ``not_found``), the
account's rate limit (429, the bucket its reference routes share), the
terminal (503 ``terminal_not_ready`` unless connected); then the route. The
probes (``/status``, ``/healthz``, ``/livez``) answer whatever the account's
state, and ``/healthz`` and ``/livez`` need no key (they carry no personal data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import msgspec
from aiohttp import web

from .._core.models import CANDLES_MAX_LIMIT
from ._engine import Engine
from ._errors import SimError
from ._records import AccountRecord
from ._terminal_stream import TerminalHub
from ._terminal_trading import (
    close_all,
    decode_body,
    invalid,
    operation_type,
    order_close,
    order_modify,
    order_send,
    parse_time,
)
from ._terminal_views import (
    TERMINAL_TIMEFRAMES,
    account_info,
    account_summary,
    candles,
    health,
    health_checks,
    mt_type,
    opened_orders,
    order_history,
    position_history,
    quote,
    server_timezone,
    symbol_info,
)
from ._terminal_wire import (
    CloseAllBody,
    OrderCloseBody,
    OrderModifyBody,
    OrderSendBody,
    TMarginCalc,
    TProfitCalc,
)
from ._web import TERMINAL_WS_PATH, Gate, Handler, error_response, json_response

__all__ = ["TERMINAL_ROUTES", "add_terminal_routes"]

PREFIX: Final = "/terminal/{account_id}"
_SEND: Final = msgspec.json.Decoder(OrderSendBody)
_MODIFY: Final = msgspec.json.Decoder(OrderModifyBody)
_CLOSE: Final = msgspec.json.Decoder(OrderCloseBody)
_CLOSE_ALL: Final = msgspec.json.Decoder(CloseAllBody)


def _text(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise invalid(f"{name} is required")
    return value


def _number(query: Mapping[str, str], name: str) -> float:
    text = _text(query, name)
    try:
        value = float(text)
    except ValueError:
        raise invalid(f"{name} must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise invalid(f"{name} must be a finite number")
    return value


def _range(query: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    start, end = parse_time(query.get("from"), "from"), parse_time(query.get("to"), "to")
    if start is not None and end is not None and start > end:
        raise invalid("from must not be later than to")
    return start, end


class _TerminalRoutes:
    def __init__(self, engine: Engine, terminals: TerminalHub, gate: Gate) -> None:
        self.engine = engine
        self.terminals = terminals
        self.gate = gate

    # ------------------------------------------------------------ plumbing

    def _lookup(self, request: web.Request, owner: str | None) -> AccountRecord:
        account_id = request.match_info["account_id"]
        account = self.engine.registry.get(account_id)
        if account is None:
            raise SimError(404, "not_found", f"no terminal for account {account_id!r}")
        if owner is not None and account.owner != owner:
            raise SimError(
                401, "unauthorized", f"this API key does not open account {account_id}'s terminal"
            )
        return account

    def account(
        self, request: web.Request, scope: str = "read", *, connected: bool = True
    ) -> AccountRecord:
        key = self.gate.authenticate(request)
        self.gate.require_scope(key, scope)
        account = self._lookup(request, key.owner)
        self.gate.limit(f"account:{account.id}")
        if connected:
            self.engine.require_connected(account)
        return account

    def _symbol(self, request: web.Request) -> str:
        symbol = _text(request.query, "symbol")
        if symbol not in self.engine.market.specs:
            raise SimError(404, "symbol_not_found", f"unknown symbol {symbol!r}")
        return symbol

    # -------------------------------------------------------------- account

    async def account_summary(self, request: web.Request) -> web.Response:
        return json_response(account_summary(self.engine, self.account(request)))

    async def account_info(self, request: web.Request) -> web.Response:
        return json_response(account_info(self.engine, self.account(request)))

    async def opened_orders(self, request: web.Request) -> web.Response:
        return json_response(opened_orders(self.engine, self.account(request)))

    async def order_history(self, request: web.Request) -> web.Response:
        account = self.account(request)
        return json_response(order_history(account, *_range(request.query)))

    async def position_history(self, request: web.Request) -> web.Response:
        account = self.account(request)
        return json_response(position_history(account, *_range(request.query)))

    async def server_timezone(self, request: web.Request) -> web.Response:
        self.account(request)
        return json_response(server_timezone(self.engine))

    # ---------------------------------------------------------- market data

    async def symbols(self, request: web.Request) -> web.Response:
        self.account(request)
        return json_response(list(self.engine.market.specs))

    async def quote(self, request: web.Request) -> web.Response:
        self.account(request)
        return json_response(quote(self.engine, self._symbol(request)))

    async def symbol_info(self, request: web.Request) -> web.Response:
        self.account(request)
        return json_response(symbol_info(self.engine, self._symbol(request)))

    async def price_history(self, request: web.Request) -> web.Response:
        self.account(request)
        query = request.query
        symbol = _text(query, "symbol")
        timeframe = _text(query, "timeframe")
        if timeframe not in TERMINAL_TIMEFRAMES:
            allowed = ", ".join(TERMINAL_TIMEFRAMES)
            raise invalid(f"timeframe must be one of {allowed}, not {timeframe!r}")
        start, end = _range(query)
        symbol = self._symbol(request)
        # With `from`, the first page from it; without, the newest page up to `to`.
        limit = CANDLES_MAX_LIMIT
        bars = candles(self.engine, symbol, timeframe, start=start, end=end, limit=limit)
        return json_response(bars)

    async def calc_margin(self, request: web.Request) -> web.Response:
        self.account(request)
        query = request.query
        symbol = self._symbol(request)
        kind = operation_type(_text(query, "operation"))
        volume = _number(query, "volume")
        if volume <= 0:
            raise invalid("volume must be > 0")
        price = _number(query, "price") if query.get("price") else 0.0
        if price <= 0:
            market = self.engine.market.quote(symbol)
            price = market.ask if kind.startswith("BUY") else market.bid
        margin = round(self.engine.money.margin(symbol, volume, price), 2)
        reply = TMarginCalc(
            symbol=symbol,
            operation=mt_type(kind),
            volume=volume,
            price=price,
            margin=margin,
            currency=self.engine.config.currency,
        )
        return json_response(reply)

    async def calc_profit(self, request: web.Request) -> web.Response:
        self.account(request)
        query = request.query
        symbol = self._symbol(request)
        kind = operation_type(_text(query, "operation"))
        volume = _number(query, "volume")
        if volume <= 0:
            raise invalid("volume must be > 0")
        opened, closed = _number(query, "priceOpen"), _number(query, "priceClose")
        profit = self.engine.money.trade_profit(
            symbol, kind.startswith("BUY"), opened, closed, volume
        )
        reply = TProfitCalc(
            symbol=symbol,
            operation=mt_type(kind),
            volume=volume,
            price_open=opened,
            price_close=closed,
            profit=profit,
            currency=self.engine.config.currency,
        )
        return json_response(reply)

    # -------------------------------------------------------------- trading

    async def order_send(self, request: web.Request) -> web.Response:
        account = self.account(request, "trade")
        body = decode_body(_SEND, await request.read())
        return json_response(order_send(self.engine, account, body))

    async def order_modify(self, request: web.Request) -> web.Response:
        account = self.account(request, "trade")
        body = decode_body(_MODIFY, await request.read())
        return json_response(order_modify(self.engine, account, body))

    async def order_close(self, request: web.Request) -> web.Response:
        account = self.account(request, "trade")
        body = decode_body(_CLOSE, await request.read())
        return json_response(order_close(self.engine, account, body))

    async def close_all(self, request: web.Request) -> web.Response:
        account = self.account(request, "trade")
        body = decode_body(_CLOSE_ALL, await request.read())
        return json_response(close_all(self.engine, account, body))

    # --------------------------------------------------------------- health

    async def status(self, request: web.Request) -> web.Response:
        account = self.account(request, connected=False)
        return json_response(health(self.engine, account))

    async def healthz(self, request: web.Request) -> web.Response:
        checks = health_checks(self._lookup(request, None))
        return json_response(checks, 200 if checks.status == "ready" else 503)

    async def livez(self, request: web.Request) -> web.Response:
        checks = health_checks(self._lookup(request, None))
        return json_response(checks, 200 if checks.terminal else 503)

    # --------------------------------------------------------------- stream

    async def stream(self, request: web.Request) -> web.StreamResponse:
        stats = self.gate.stats
        stats.ws_handshakes += 1
        stats.terminal_handshakes += 1
        account_id = request.match_info["account_id"]
        refusal = self.gate.faults.handshake_refusal(account_id)
        try:
            if refusal is not None:
                stats.ws_refused += 1
                stats.terminal_refused += 1
                raise SimError(refusal, "unavailable", "the terminal refuses connections for now")
            key = self.gate.authenticate(request, query=True)
            account = self._lookup(request, key.owner)
            if not account.terminal_up:
                raise SimError(
                    503,
                    "terminal_not_ready",
                    f"account {account_id}'s terminal is still provisioning",
                )
            if not web.WebSocketResponse().can_prepare(request).ok:
                raise SimError(
                    400,
                    "websocket_required",
                    f"{request.path} is the account's WebSocket: open it with a WebSocket "
                    "handshake (Upgrade: websocket)",
                    {"Upgrade": "websocket"},
                )
        except SimError as exc:
            return error_response(exc, terminal=True)
        stats.ws_connections += 1
        stats.terminal_connections += 1
        try:
            return await self.terminals.serve(request, account_id, key)
        finally:
            stats.ws_connections -= 1
            stats.terminal_connections -= 1


#: (method, path under rest_url, handler name): every terminal route.
TERMINAL_ROUTES: Final = (
    ("GET", "/AccountSummary", "account_summary"),
    ("GET", "/AccountInfo", "account_info"),
    ("GET", "/OpenedOrders", "opened_orders"),
    ("GET", "/OrderHistory", "order_history"),
    ("GET", "/PositionHistory", "position_history"),
    ("GET", "/ServerTimezone", "server_timezone"),
    ("GET", "/symbols", "symbols"),
    ("GET", "/getQuote", "quote"),
    ("GET", "/SymbolInfo", "symbol_info"),
    ("GET", "/PriceHistory", "price_history"),
    ("GET", "/OrderCalcMargin", "calc_margin"),
    ("GET", "/OrderCalcProfit", "calc_profit"),
    ("POST", "/OrderSend", "order_send"),
    ("POST", "/OrderModify", "order_modify"),
    ("POST", "/OrderClose", "order_close"),
    ("POST", "/CloseAll", "close_all"),
    ("GET", "/status", "status"),
    ("GET", "/healthz", "healthz"),
    ("GET", "/livez", "livez"),
)


def add_terminal_routes(
    app: web.Application, engine: Engine, terminals: TerminalHub, gate: Gate
) -> None:
    """Serve every account's terminal under ``/terminal/{account_id}``."""
    routes = _TerminalRoutes(engine, terminals, gate)
    router = app.router
    router.add_get(TERMINAL_WS_PATH, routes.stream, allow_head=False)
    for method, path, name in TERMINAL_ROUTES:
        handler: Handler = getattr(routes, name)
        if method == "GET":
            router.add_get(PREFIX + path, handler, allow_head=False)
        else:
            router.add_post(PREFIX + path, handler)
