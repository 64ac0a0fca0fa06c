"""What every route of both dialects shares: the request pipeline and the error replies.

A REST request passes, in order: injected latency and failures (of every
request, or of the account its path names), then its route's checks
(authentication, scope, account, rate limit, terminal), then one engine call.
Every reply is JSON, refusals included, in the envelope of its dialect:
``{"error", "message"}`` on the reference routes (``/v1/...``) and
``{"error", "detail"}`` on the terminal routes (``/terminal/...``). An
unknown path is 404 ``not_found``, a method the path does not serve 405
``method_not_allowed`` with ``Allow``, and a bug in a handler 500
``internal_error`` (logged with its traceback).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import hdrs, web

from .._core.codec import encode
from .._core.models import ErrorBody
from ._config import ApiKey
from ._errors import SimError
from ._faults import Faults
from ._ratelimit import RateLimiter
from ._terminal_wire import TError

__all__ = [
    "STREAM_PATH",
    "TERMINAL_PREFIX",
    "TERMINAL_WS_PATH",
    "Gate",
    "Handler",
    "Stats",
    "error_response",
    "json_response",
]

log = logging.getLogger("fxsocket_async.simulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STREAM_PATH = "/v1/stream"
TERMINAL_PREFIX = "/terminal/"
TERMINAL_WS_PATH = "/terminal/{account_id}/ws"
#: The codes of aiohttp's own refusals (no route, wrong method, body too large).
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
_RANKS = {"read": 0, "trade": 1, "full": 2}


@dataclass(slots=True)
class Stats:
    """Counters a test can read as ``sim.stats``."""

    requests: int = 0
    #: Requests per route, keyed like "GET /v1/accounts/{account_id}/orders".
    routes: Counter[str] = field(default_factory=Counter)
    #: Every WebSocket, the reference stream's and the terminal sockets' together.
    ws_handshakes: int = 0
    ws_refused: int = 0
    ws_connections: int = 0
    #: The same three for the terminal sockets alone (``/terminal/{account_id}/ws``).
    terminal_handshakes: int = 0
    terminal_refused: int = 0
    terminal_connections: int = 0


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=encode(body), status=status, headers=headers, content_type="application/json"
    )


def is_terminal(path: str) -> bool:
    return path.startswith(TERMINAL_PREFIX)


def is_handshake(request: web.Request) -> bool:
    """A GET of a WebSocket route (served without the REST pipeline)."""
    if request.method != hdrs.METH_GET:
        return False
    resource = request.match_info.route.resource
    return resource is not None and resource.canonical in (STREAM_PATH, TERMINAL_WS_PATH)


def error_response(exc: SimError, *, terminal: bool = False) -> web.Response:
    """``exc`` as a reply in the envelope of its dialect."""
    body: object
    if terminal:
        body = TError(error=exc.code, detail=exc.message)
    else:
        body = ErrorBody(error=exc.code, message=exc.message)
    return json_response(body, exc.status, exc.headers)


class Gate:
    """Authentication, scopes, rate limits and fault injection, for both dialects."""

    def __init__(
        self,
        faults: Faults,
        stats: Stats,
        keys: dict[str, ApiKey],
        limiter: RateLimiter | None,
    ) -> None:
        self.faults = faults
        self.stats = stats
        self.keys = keys
        self.limiter = limiter

    def authenticate(self, request: web.Request, *, query: bool = False) -> ApiKey:
        """The request's key: ``X-API-Key``, ``Authorization: Bearer`` or, with
        ``query``, ``?api_key=``. Raises ``SimError`` 401 ``unauthorized``."""
        token = request.headers.get("X-API-Key")
        if token is None:
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else None
        if token is None and query:
            token = request.query.get("api_key")
        if not token:
            where = "'?api_key=<key>'" if query else "'X-API-Key: <key>'"
            raise SimError(
                401,
                "unauthorized",
                f"missing API key: send {where} or 'Authorization: Bearer <key>'",
            )
        key = self.keys.get(token)
        if key is None:
            raise SimError(401, "unauthorized", "unknown API key")
        return key

    @staticmethod
    def require_scope(key: ApiKey, needed: str) -> None:
        if _RANKS[key.scope] < _RANKS[needed]:
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

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_handshake(request):
            return await handler(request)
        self.stats.requests += 1
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        name = f"{request.method} {route}"
        self.stats.routes[name] += 1
        account = request.match_info.get("account_id")
        delay = self.faults.latency_for(account)
        if delay > 0:
            await asyncio.sleep(delay)
        failure = self.faults.take_failure(account, name)
        drop = self.faults.take_drop(account)
        if failure is not None and failure.after:
            await self._handle(request, handler)
        response: web.StreamResponse
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            refusal = SimError(failure.status, failure.error, failure.message, headers)
            response = error_response(refusal, terminal=is_terminal(request.path))
        else:
            response = await self._handle(request, handler)
        if drop and request.transport is not None:
            # Carried out, and the reply lost: the client sees the connection break.
            request.transport.abort()
        return response

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        terminal = is_terminal(request.path)
        try:
            return await handler(request)
        except SimError as exc:
            return error_response(exc, terminal=terminal)
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
            return error_response(SimError(exc.status, code, message, headers), terminal=terminal)
        except Exception:
            log.exception("bug in the simulator answering %s %s", request.method, request.path)
            failure = SimError(500, "internal_error", "the simulator failed; its log says why")
            return error_response(failure, terminal=terminal)
