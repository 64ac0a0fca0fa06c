"""The reference dialect's routes: account management, trading, market data, the stream.

Each route checks, in order: authentication (401), the key's scope (403),
the account lookup (404 / 400 ``account_required``), the rate limit (429)
and the terminal (503); then one engine call, whose Struct is the reply body.
The pipeline around it (faults, the JSON error replies) is ``_web``; the
terminal dialect's routes are ``_terminal_app``, added by ``build_app`` when
``SimulatorConfig.terminal`` is on.
"""

from __future__ import annotations

import logging

from aiohttp import web

from .._core.models import (
    CANDLES_DEFAULT_LIMIT,
    CANDLES_MAX_LIMIT,
    HISTORY_DEFAULT_LIMIT,
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_REPLAYED_HEADER,
    TIMEFRAMES,
)
from ._config import ApiKey, SimulatorConfig
from ._engine import Engine
from ._errors import SimError
from ._faults import Faults
from ._ratelimit import RateLimiter
from ._records import AccountRecord
from ._requests import (
    decode_link,
    decode_order,
    decode_patch,
    query_int,
    query_order_type,
    query_time,
)
from ._stream import StreamHub
from ._terminal_app import add_terminal_routes
from ._terminal_stream import TerminalHub
from ._web import STREAM_PATH, Gate, Handler, Stats, error_response
from ._web import json_response as _json

__all__ = ["Stats", "build_app"]

log = logging.getLogger("fxsocket_async.simulator")


class _Routes:
    def __init__(self, engine: Engine, hub: StreamHub, terminals: TerminalHub, gate: Gate) -> None:
        self.engine = engine
        self.hub = hub
        self.terminals = terminals
        self.gate = gate
        self.faults = gate.faults
        self.stats = gate.stats

    # ------------------------------------------------------------ plumbing

    def authenticate(self, request: web.Request) -> ApiKey:
        return self.gate.authenticate(request)

    @staticmethod
    def require_scope(key: ApiKey, needed: str) -> None:
        Gate.require_scope(key, needed)

    def limit(self, bucket: str) -> None:
        self.gate.limit(bucket)

    def management(self, request: web.Request, scope: str) -> ApiKey:
        key = self.authenticate(request)
        self.require_scope(key, scope)
        self.limit(f"key:{key.key}")
        return key

    def trading(self, request: web.Request, scope: str = "read") -> AccountRecord:
        key = self.authenticate(request)
        self.require_scope(key, scope)
        account = self.engine.resolve(key.owner, request.match_info.get("account_id"))
        self.limit(f"account:{account.id}")
        self.engine.require_connected(account)
        return account

    # ---------------------------------------------------------- management

    async def list_accounts(self, request: web.Request) -> web.Response:
        key = self.management(request, "read")
        return _json(self.engine.account_bodies(key.owner))

    async def link_account(self, request: web.Request) -> web.Response:
        key = self.management(request, "full")
        account = self.engine.link_body(key.owner, decode_link(await request.read()))
        log.info(
            "linked %s account %s (%s, login %s)",
            account.platform,
            account.id,
            account.server,
            account.login,
        )
        return _json(account, status=201)

    async def get_account(self, request: web.Request) -> web.Response:
        key = self.management(request, "read")
        return _json(self.engine.account_body(key.owner, request.match_info["account_id"]))

    async def unlink_account(self, request: web.Request) -> web.Response:
        key = self.management(request, "full")
        account_id = request.match_info["account_id"]
        self.engine.unlink(key.owner, account_id)
        self.hub.forget_account(account_id)
        self.terminals.forget_account(account_id)
        log.info("unlinked account %s", account_id)
        return web.Response(status=204)

    # --------------------------------------------------------- per account

    async def summary(self, request: web.Request) -> web.Response:
        return _json(self.engine.summary(self.trading(request)))

    async def positions(self, request: web.Request) -> web.Response:
        return _json(self.engine.positions(self.trading(request)))

    async def pending_orders(self, request: web.Request) -> web.Response:
        return _json(self.engine.pending_orders(self.trading(request)))

    async def create_order(self, request: web.Request) -> web.Response:
        account = self.trading(request, "trade")
        key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
        if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
            raise SimError(
                400,
                "invalid_idempotency_key",
                f"{IDEMPOTENCY_KEY_HEADER} must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters",
            )
        body = decode_order(await request.read())
        reply, replayed = self.engine.create_order(account, body, key)
        return _json(reply, headers={IDEMPOTENCY_REPLAYED_HEADER: "true"} if replayed else None)

    async def modify_order(self, request: web.Request) -> web.Response:
        account = self.trading(request, "trade")
        body = decode_patch(await request.read())
        reply = self.engine.modify_order(account, request.match_info["order_id"], body)
        return _json(reply)

    async def close_order(self, request: web.Request) -> web.Response:
        account = self.trading(request, "trade")
        return _json(self.engine.close_order(account, request.match_info["order_id"]))

    async def quote(self, request: web.Request) -> web.Response:
        self.trading(request)
        return _json(self.engine.quote(request.match_info["symbol"]))

    async def candles(self, request: web.Request) -> web.Response:
        self.trading(request)
        symbol = request.match_info["symbol"]
        query = request.query
        timeframe = query.get("timeframe", "")
        if timeframe not in TIMEFRAMES:
            raise SimError(
                400,
                "invalid_timeframe",
                f"timeframe must be one of {', '.join(TIMEFRAMES)}, not {timeframe!r}",
            )
        start, end = query_time(query, "from"), query_time(query, "to")
        if start is not None and end is not None and start > end:
            raise SimError(400, "invalid_range", "from must not be later than to")
        limit = query_int(query, "limit", CANDLES_DEFAULT_LIMIT)
        if not 1 <= limit <= CANDLES_MAX_LIMIT:
            raise SimError(400, "invalid_limit", f"limit must be between 1 and {CANDLES_MAX_LIMIT}")
        self.engine.quote(symbol)  # 404 for an unknown symbol
        bars = self.engine.market.candles(symbol, timeframe, start=start, end=end, limit=limit)
        return _json({"symbol": symbol, "timeframe": timeframe, "candles": bars})

    async def history(self, request: web.Request) -> web.Response:
        account = self.trading(request)
        query = request.query
        page = self.engine.history(
            account,
            start=query_time(query, "from"),
            end=query_time(query, "to"),
            symbol=query.get("symbol") or None,
            order_type=query_order_type(query),
            offset=query_int(query, "offset", 0),
            limit=query_int(query, "limit", HISTORY_DEFAULT_LIMIT),
        )
        return _json(page)

    # -------------------------------------------------------------- stream

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self.stats.ws_handshakes += 1
        refusal = self.faults.handshake_refusal()
        if refusal is not None:
            self.stats.ws_refused += 1
            return error_response(
                SimError(refusal, "unavailable", "the stream is not accepting connections")
            )
        try:
            key = self.authenticate(request)
        except SimError as exc:
            return error_response(exc)
        if not web.WebSocketResponse().can_prepare(request).ok:
            return error_response(
                SimError(
                    400,
                    "websocket_required",
                    f"{STREAM_PATH} is the WebSocket stream: open it with a WebSocket "
                    "handshake (Upgrade: websocket)",
                    {"Upgrade": "websocket"},
                )
            )
        self.stats.ws_connections += 1
        try:
            return await self.hub.serve(request, key)
        finally:
            self.stats.ws_connections -= 1


def build_app(
    config: SimulatorConfig,
    engine: Engine,
    hub: StreamHub,
    terminals: TerminalHub,
    faults: Faults,
    stats: Stats,
    keys: dict[str, ApiKey],
    limiter: RateLimiter | None,
) -> web.Application:
    """The aiohttp application serving every route of the reference dialect, and of
    the terminal dialect when ``config.terminal`` is on."""
    gate = Gate(faults, stats, keys, limiter)
    routes = _Routes(engine, hub, terminals, gate)
    app = web.Application(middlewares=[gate.middleware])
    router = app.router

    def get(path: str, handler: Handler) -> None:
        # Only the methods the contract names: HEAD is a 405 like any other.
        router.add_get(path, handler, allow_head=False)

    get(STREAM_PATH, routes.stream)
    get("/v1/accounts", routes.list_accounts)
    router.add_post("/v1/accounts", routes.link_account)
    get("/v1/accounts/{account_id}", routes.get_account)
    router.add_delete("/v1/accounts/{account_id}", routes.unlink_account)
    # The per-account form, and the reference's bare form acting on the only account.
    for prefix in ("/v1/accounts/{account_id}", "/v1"):
        get(f"{prefix}/account", routes.summary)
        get(f"{prefix}/positions", routes.positions)
        get(f"{prefix}/orders", routes.pending_orders)
        router.add_post(f"{prefix}/orders", routes.create_order)
        router.add_patch(f"{prefix}/orders/{{order_id}}", routes.modify_order)
        router.add_delete(f"{prefix}/orders/{{order_id}}", routes.close_order)
        get(f"{prefix}/quotes/{{symbol}}", routes.quote)
        get(f"{prefix}/candles/{{symbol}}", routes.candles)
        get(f"{prefix}/history", routes.history)
    if config.terminal:
        add_terminal_routes(app, engine, terminals, gate)
    return app
