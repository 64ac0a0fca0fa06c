"""The simulator's aiohttp application: every REST route and the stream handshake.

A request passes, in order: injected latency and failures, authentication
(401), the key's scope (403), the account lookup (404 / 400
``account_required``), the rate limit (429) and the terminal check (503); then
one engine call, whose Struct is the reply body. Every reply of a REST route
is JSON, refusals included: an unknown path is 404 ``not_found``, a method the
path does not serve 405 ``method_not_allowed`` with ``Allow``, and a bug in a
handler 500 ``internal_error`` (logged with its traceback).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import hdrs, web

from .._core.codec import encode
from .._core.models import (
    CANDLES_DEFAULT_LIMIT,
    CANDLES_MAX_LIMIT,
    HISTORY_DEFAULT_LIMIT,
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_REPLAYED_HEADER,
    TIMEFRAMES,
    ErrorBody,
)
from ._config import ApiKey
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

__all__ = ["Stats", "build_app"]

log = logging.getLogger("fxsocket_async.simulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STREAM_PATH = "/v1/stream"
#: The codes of aiohttp's own refusals (no route, wrong method, body too large).
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


@dataclass(slots=True)
class Stats:
    """Counters a test can read as ``sim.stats``."""

    requests: int = 0
    #: Requests per route, keyed like "GET /v1/accounts/{account_id}/orders".
    routes: Counter[str] = field(default_factory=Counter)
    ws_handshakes: int = 0
    ws_refused: int = 0
    ws_connections: int = 0


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=encode(body), status=status, headers=headers, content_type="application/json"
    )


def _error(exc: SimError) -> web.Response:
    return _json(ErrorBody(error=exc.code, message=exc.message), exc.status, exc.headers)


class _Routes:
    def __init__(
        self,
        engine: Engine,
        hub: StreamHub,
        faults: Faults,
        stats: Stats,
        keys: dict[str, ApiKey],
        limiter: RateLimiter | None,
    ) -> None:
        self.engine = engine
        self.hub = hub
        self.faults = faults
        self.stats = stats
        self.keys = keys
        self.limiter = limiter

    # ------------------------------------------------------------ plumbing

    def authenticate(self, request: web.Request) -> ApiKey:
        token = request.headers.get("X-API-Key")
        if token is None:
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else None
        if not token:
            raise SimError(
                401,
                "unauthorized",
                "missing API key: send 'X-API-Key: <key>' or 'Authorization: Bearer <key>'",
            )
        key = self.keys.get(token)
        if key is None:
            raise SimError(401, "unauthorized", "unknown API key")
        return key

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == STREAM_PATH and request.method == hdrs.METH_GET:
            return await handler(request)
        self.stats.requests += 1
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        self.stats.routes[f"{request.method} {route}"] += 1
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        failure = self.faults.take_failure()
        drop = self.faults.take_drop()
        if failure is not None and failure.after:
            await self._handle(request, handler)
        response: web.StreamResponse
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            response = _error(SimError(failure.status, failure.error, failure.message, headers))
        else:
            response = await self._handle(request, handler)
        if drop and request.transport is not None:
            # Carried out, and the reply lost: the client sees the connection break.
            request.transport.abort()
        return response

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except SimError as exc:
            return _error(exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers: dict[str, str] = {}
            message = exc.reason
            if isinstance(exc, web.HTTPMethodNotAllowed):
                # RFC 9110, section 15.5.6: a 405 lists the methods the path serves.
                allowed = ", ".join(sorted(exc.allowed_methods))
                headers["Allow"] = allowed
                message = f"{request.method} is not served here; {request.path} serves {allowed}"
            elif exc.status == 404:
                message = f"no route {request.path}"
            elif exc.status == 413:
                message = f"the body is larger than {request.client_max_size} bytes"
            code = _HTTP_CODES.get(exc.status, "bad_request")
            return _error(SimError(exc.status, code, message, headers))
        except Exception:
            log.exception("bug in the simulator answering %s %s", request.method, request.path)
            return _error(SimError(500, "internal_error", "the simulator failed; its log says why"))

    @staticmethod
    def require_scope(key: ApiKey, needed: str) -> None:
        ranks = {"read": 0, "trade": 1, "full": 2}
        if ranks[key.scope] < ranks[needed]:
            raise SimError(
                403,
                "forbidden",
                f"this key's scope is '{key.scope}'; the request needs '{needed}'",
            )

    def limit(self, bucket: str) -> None:
        if self.limiter is None:
            return
        wait = self.limiter.acquire(bucket)
        if wait is not None:
            raise SimError(
                429,
                "rate_limited",
                f"more than {self.limiter.rate:g} requests per second; retry after {wait} s",
                {"Retry-After": str(wait)},
            )

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
        return _json(self.engine.accounts(key.owner))

    async def link_account(self, request: web.Request) -> web.Response:
        key = self.management(request, "full")
        account = self.engine.link(key.owner, decode_link(await request.read()))
        log.info("linked account %s (%s, login %s)", account.id, account.server, account.login)
        return _json(account, status=201)

    async def get_account(self, request: web.Request) -> web.Response:
        key = self.management(request, "read")
        return _json(self.engine.account(key.owner, request.match_info["account_id"]))

    async def unlink_account(self, request: web.Request) -> web.Response:
        key = self.management(request, "full")
        account_id = request.match_info["account_id"]
        self.engine.unlink(key.owner, account_id)
        self.hub.forget_account(account_id)
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
            return _error(
                SimError(refusal, "unavailable", "the stream is not accepting connections")
            )
        try:
            key = self.authenticate(request)
        except SimError as exc:
            return _error(exc)
        if not web.WebSocketResponse().can_prepare(request).ok:
            return _error(
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
    engine: Engine,
    hub: StreamHub,
    faults: Faults,
    stats: Stats,
    keys: dict[str, ApiKey],
    limiter: RateLimiter | None,
) -> web.Application:
    """The aiohttp application serving every route of the contract."""
    routes = _Routes(engine, hub, faults, stats, keys, limiter)
    app = web.Application(middlewares=[routes.middleware])
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
    return app
