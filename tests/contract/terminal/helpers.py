"""Helpers for the terminal dialect's contract tests: plain aiohttp, nothing of our client.

``Terminal`` is one account's terminal REST API at its ``rest_url``;
``socket()`` opens its WebSocket at ``ws_url?api_key=``. Replies stay raw JSON
(``Reply.body``), so the tests check the wire. Every wait is bounded in count
and in time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.helpers.sim import next_login

from ..helpers import FULL, Api, Reply, next_frame, of_type, send, steer, wait_frame

_MISSING: Any = object()

ORDER_RESULT_FIELDS = {
    "success",
    "outcome",
    "retcode",
    "retcodeDescription",
    "deal",
    "order",
    "volume",
    "price",
    "bid",
    "ask",
    "comment",
}
OPENED_ORDER_FIELDS = {
    "ticket",
    "symbol",
    "type",
    "kind",
    "lots",
    "openPrice",
    "currentPrice",
    "stopLoss",
    "takeProfit",
    "swap",
    "profit",
    "magic",
    "comment",
    "openTime",
}
TRADE_FIELDS = {
    "deal",
    "order",
    "position",
    "symbol",
    "type",
    "entry",
    "volume",
    "price",
    "profit",
    "commission",
    "swap",
    "magic",
    "comment",
    "time",
    "degraded",
}
TIMEFRAMES = ("M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1", "MN1")


class Terminal:
    """One account's terminal REST API, at ``rest_url``. ``auth`` is "x-api-key" (the
    vendor SDK's header), "bearer" or None."""

    def __init__(self, http: aiohttp.ClientSession, account: dict[str, Any], key: str = FULL):
        self.http = http
        self.account = account
        self.key = key
        self.rest_url: str = account["rest_url"]
        self.ws_url: str = account["ws_url"]
        assert self.rest_url, account
        assert self.ws_url, account

    async def request(
        self,
        method: str,
        route: str,
        *,
        key: Any = _MISSING,
        auth: str | None = "x-api-key",
        body: Any = _MISSING,
        data: str | bytes | None = None,
        params: dict[str, Any] | None = None,
    ) -> Reply:
        key = self.key if key is _MISSING else key
        headers = {"Accept": "application/json"}
        if key is not None and auth == "x-api-key":
            headers["X-API-Key"] = key
        elif key is not None and auth == "bearer":
            headers["Authorization"] = f"Bearer {key}"
        if body is not _MISSING:
            data = json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        query = None if params is None else {k: str(v) for k, v in params.items()}
        async with asyncio.timeout(10):
            async with self.http.request(
                method, self.rest_url + route, data=data, params=query, headers=headers
            ) as response:
                return Reply(response.status, response.headers, await response.text())

    async def get(self, route: str, **kwargs: Any) -> Reply:
        return await self.request("GET", route, **kwargs)

    async def post(self, route: str, body: Any = _MISSING, **kwargs: Any) -> Reply:
        return await self.request("POST", route, body=body, **kwargs)

    async def ok(self, method: str, route: str, **kwargs: Any) -> Any:
        """The JSON of a 200 reply."""
        reply = await self.request(method, route, **kwargs)
        assert reply.status == 200, reply
        return reply.body

    async def send(self, **body: Any) -> dict[str, Any]:
        """``POST /OrderSend``; the ``OrderResult``."""
        result = await self.ok("POST", "/OrderSend", body=body)
        assert set(result) == ORDER_RESULT_FIELDS, result
        return result  # type: ignore[no-any-return]

    async def buy(self, symbol: str = "EURUSD", volume: float = 0.1, **extra: Any) -> int:
        result = await self.send(symbol=symbol, operation="Buy", volume=volume, **extra)
        assert result["success"], result
        assert result["retcode"] == 10009, result
        return int(result["order"])

    async def opened(self) -> list[dict[str, Any]]:
        return await self.ok("GET", "/OpenedOrders")  # type: ignore[no-any-return]


def assert_terminal_error(reply: Reply, status: int, code: str | None = None) -> str:
    """The reply is ``status`` with the terminal's error body ``{"error", "detail"}``."""
    assert reply.status == status, reply
    body = reply.body
    assert isinstance(body, dict), reply
    assert set(body) == {"error", "detail"}, reply
    assert isinstance(body["error"], str), reply
    assert body["error"], reply
    assert isinstance(body["detail"], str), reply
    assert body["detail"], reply
    if code is not None:
        assert body["error"] == code, reply
    return str(body["error"])


async def connected_account(
    api: Api, *, key: str = FULL, platform: str | None = None, **link: Any
) -> dict[str, Any]:
    """Link an account (``platform`` as given), bring its terminal up now; its JSON."""
    body: dict[str, Any] = {"server": "Sim-Demo", "password": "pw-secret-1", **link}
    body.setdefault("login", next_login())
    if platform is not None:
        body["platform"] = platform
    reply = await api.post("/v1/accounts", body, key=key)
    assert reply.status == 201, reply
    await steer(api.sim.complete_provisioning(reply.body["id"]))
    got = await api.get(f"/v1/accounts/{reply.body['id']}", key=key)
    assert got.status == 200, got
    assert got.body["status"] == "connected", got
    return got.body  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- WebSocket


def with_key(ws_url: str, key: str | None) -> str:
    return ws_url if key is None else f"{ws_url}?{urlencode({'api_key': key})}"


@asynccontextmanager
async def socket(
    http: aiohttp.ClientSession, account: dict[str, Any], key: str | None = FULL
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """The account's terminal WebSocket, opened with ``?api_key=``."""
    async with asyncio.timeout(10):
        ws = await http.ws_connect(with_key(account["ws_url"], key))
    try:
        yield ws
    finally:
        await ws.close()


async def subscribe(
    ws: aiohttp.ClientWebSocketResponse,
    topic: str,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    action: str = "subscribe",
) -> dict[str, Any]:
    """Send a subscription request; return its answer (the next frame)."""
    message: dict[str, Any] = {"action": action, "topic": topic}
    if symbol is not None:
        message["symbol"] = symbol
    if timeframe is not None:
        message["timeframe"] = timeframe
    await send(ws, message)
    return await next_frame(ws)


async def subscribed(ws: aiohttp.ClientWebSocketResponse, topic: str, **fields: Any) -> None:
    """Subscribe, expecting ``subscribed`` (and for positions and terminal, their snapshot)."""
    answer = await subscribe(ws, topic, **fields)
    assert answer["type"] == "subscribed", answer
    assert answer["topic"] == topic, answer
    if topic in ("positions", "terminal"):
        snapshot = await next_frame(ws)
        assert snapshot["type"] == topic, snapshot


async def roundtrip(
    ws: aiohttp.ClientWebSocketResponse, seen: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """``list`` answered: the server has read everything before it. Returns its data;
    frames read before the answer go to ``seen``."""
    await send(ws, {"action": "list"})
    frame = await wait_frame(ws, of_type("subscriptions"), seen=seen)
    return frame["data"]  # type: ignore[no-any-return]


async def silence(ws: aiohttp.ClientWebSocketResponse, seconds: float = 0.3) -> list[Any]:
    """Everything that arrives within ``seconds`` (the caller usually expects [])."""
    got: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    for _ in range(1000):
        left = deadline - loop.time()
        if left <= 0:
            break
        try:
            async with asyncio.timeout(left):
                msg = await ws.receive()
        except TimeoutError:
            break
        got.append(msg.data if msg.type == aiohttp.WSMsgType.TEXT else msg)
        if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            break
    return got
