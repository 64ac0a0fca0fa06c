"""Helpers for the contract tests: a thin aiohttp wrapper, nothing of our client.

REST replies are kept as raw JSON (``Reply.body``) so that the tests check the
wire, not our decoder. Every wait is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from fxsocket_async.simulator import ApiKey, Simulator, SimulatorConfig
from tests.helpers.sim import FULL_KEY, KEYS, READ_KEY, TRADE_KEY, next_login, sim_config

FULL = FULL_KEY
TRADE = TRADE_KEY
READ = READ_KEY
#: A full-scope key of another owner.
OTHER = "other-owner"

ACCOUNT_FIELDS = {"id", "nickname", "platform", "server", "login", "status", "error", "created_at"}
ORDER_REPLY_FIELDS = {"id", "symbol", "type", "volume", "price", "sl", "tp", "status"}
TRADE_FIELDS = {
    "id",
    "symbol",
    "type",
    "volume",
    "open_price",
    "close_price",
    "profit",
    "commission",
    "swap",
    "opened_at",
    "closed_at",
}
TIMEFRAMES = ("M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1", "MN")
TIMEFRAME_SECONDS = {
    "M1": 60,
    "M5": 300,
    "M15": 900,
    "M30": 1800,
    "H1": 3600,
    "H4": 14400,
    "D1": 86400,
    "W1": 604800,
}
FRAME_TIMEOUT = 5.0
SILENCE = 0.5

_MISSING: Any = object()


def config(**overrides: Any) -> SimulatorConfig:
    """The contract suite's simulator config: the suites' (``sim_config``) plus a key of
    another owner; ``overrides`` change single fields."""
    overrides.setdefault("api_keys", (*KEYS, ApiKey(OTHER, "full", owner="other")))
    return sim_config(**overrides)


async def steer(result: Any) -> Any:
    """Steering handles may be plain or async: accept both."""
    if inspect.isawaitable(result):
        return await result
    return result


def parse_time(text: str) -> datetime:
    """An ISO 8601 time of the wire, as an aware datetime (naive ones read as UTC)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- REST


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    text: str

    @property
    def body(self) -> Any:
        return json.loads(self.text)

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.text[:300]!r}>"


class Api:
    """Plain HTTP against one simulator. ``auth`` is "bearer", "x-api-key" or None."""

    def __init__(self, http: aiohttp.ClientSession, sim: Simulator) -> None:
        self.http = http
        self.sim = sim

    async def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = FULL,
        auth: str | None = "auto",
        json_body: Any = _MISSING,
        data: str | bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent: dict[str, str] = {"Accept": "application/json"}
        if auth == "auto":
            auth = "x-api-key" if _is_management(path) else "bearer"
        if key is not None and auth == "bearer":
            sent["Authorization"] = f"Bearer {key}"
        elif key is not None and auth == "x-api-key":
            sent["X-API-Key"] = key
        if json_body is not _MISSING:
            data = json.dumps(json_body)
        if data is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        async with asyncio.timeout(10):
            async with self.http.request(
                method, self.sim.base_url + path, data=data, params=params, headers=sent
            ) as response:
                text = await response.text()
                return Reply(response.status, response.headers, text)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any = _MISSING, **kwargs: Any) -> Reply:
        return await self.request("POST", path, json_body=body, **kwargs)

    async def patch(self, path: str, body: Any = _MISSING, **kwargs: Any) -> Reply:
        return await self.request("PATCH", path, json_body=body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, **kwargs)

    # ---------------------------------------------------------------- accounts

    async def link(
        self,
        *,
        key: str = FULL,
        server: str = "Sim-Demo",
        login: int | None = None,
        password: str = "pw-secret-123",
        nickname: str | None = "bot",
    ) -> Reply:
        body: dict[str, Any] = {
            "server": server,
            "login": next_login() if login is None else login,
            "password": password,
        }
        if nickname is not None:
            body["nickname"] = nickname
        return await self.post("/v1/accounts", body, key=key)

    async def link_connected(self, *, key: str = FULL, **kwargs: Any) -> dict[str, Any]:
        """Link an account and finish its provisioning now; returns its JSON."""
        reply = await self.link(key=key, **kwargs)
        assert reply.status in (200, 201), reply
        account_id = reply.body["id"]
        await steer(self.sim.complete_provisioning(account_id))
        got = await self.get(f"/v1/accounts/{account_id}", key=key)
        assert got.status == 200, got
        assert got.body["status"] == "connected", got
        return got.body

    # ---------------------------------------------------------------- trading

    async def order(self, account_id: str, key: str = FULL, **body: Any) -> Reply:
        return await self.post(acc(account_id, "orders"), body, key=key)

    async def buy(self, account_id: str, symbol: str = "EURUSD", volume: float = 1.0, **extra: Any):
        reply = await self.order(account_id, symbol=symbol, type="BUY", volume=volume, **extra)
        assert reply.status in (200, 201), reply
        return reply.body

    async def sell(
        self, account_id: str, symbol: str = "EURUSD", volume: float = 1.0, **extra: Any
    ):
        reply = await self.order(account_id, symbol=symbol, type="SELL", volume=volume, **extra)
        assert reply.status in (200, 201), reply
        return reply.body

    async def close(self, account_id: str, order_id: str) -> dict[str, Any]:
        reply = await self.delete(acc(account_id, f"orders/{order_id}"))
        assert reply.status == 200, reply
        return reply.body

    async def quote(self, account_id: str, symbol: str = "EURUSD") -> dict[str, Any]:
        reply = await self.get(acc(account_id, f"quotes/{symbol}"))
        assert reply.status == 200, reply
        return reply.body

    async def summary(self, account_id: str) -> dict[str, Any]:
        reply = await self.get(acc(account_id, "account"))
        assert reply.status == 200, reply
        return reply.body

    async def positions(self, account_id: str) -> list[dict[str, Any]]:
        reply = await self.get(acc(account_id, "positions"))
        assert reply.status == 200, reply
        return reply.body

    async def pending(self, account_id: str) -> list[dict[str, Any]]:
        reply = await self.get(acc(account_id, "orders"))
        assert reply.status == 200, reply
        return reply.body

    async def history(self, account_id: str, **params: Any) -> dict[str, Any]:
        reply = await self.get(
            acc(account_id, "history"), params={k: str(v) for k, v in params.items()}
        )
        assert reply.status == 200, reply
        return reply.body


def _is_management(path: str) -> bool:
    parts = path.split("?")[0].strip("/").split("/")
    return parts[:2] == ["v1", "accounts"] and len(parts) <= 3


def acc(account_id: str, tail: str) -> str:
    """A per-account route."""
    return f"/v1/accounts/{account_id}/{tail}"


def assert_error(reply: Reply, status: int, code: str | Iterable[str] | None = None) -> str:
    """The reply is ``status`` with the contract's error body; returns its code."""
    assert reply.status == status, reply
    body = reply.body
    assert isinstance(body, dict), reply
    assert isinstance(body.get("error"), str), reply
    assert body["error"], reply
    assert isinstance(body.get("message"), str), reply
    if code is not None:
        codes = {code} if isinstance(code, str) else set(code)
        assert body["error"] in codes, reply
    return body["error"]


async def set_price(sim: Simulator, symbol: str, bid: float, ask: float | None = None) -> None:
    await steer(sim.set_price(symbol, bid, ask))


# ---------------------------------------------------------------------- WebSocket


@asynccontextmanager
async def stream(
    http: aiohttp.ClientSession,
    sim: Simulator,
    key: str | None = FULL,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    sent = {"Authorization": f"Bearer {key}"} if key is not None else {}
    sent.update(headers or {})
    async with asyncio.timeout(10):
        ws = await http.ws_connect(sim.ws_url, headers=sent, **kwargs)
    try:
        yield ws
    finally:
        await ws.close()


async def send(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> None:
    await ws.send_str(json.dumps(message))


async def next_frame(
    ws: aiohttp.ClientWebSocketResponse, within: float = FRAME_TIMEOUT
) -> dict[str, Any]:
    """The next text frame as JSON; fails on anything else or after ``within`` seconds."""
    async with asyncio.timeout(within):
        msg = await ws.receive()
    assert msg.type == aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg!r}"
    frame = json.loads(msg.data)
    assert isinstance(frame, dict), msg.data
    return frame


async def wait_frame(
    ws: aiohttp.ClientWebSocketResponse,
    predicate: Callable[[dict[str, Any]], bool],
    *,
    within: float = FRAME_TIMEOUT,
    max_frames: int = 2000,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Read frames until one matches ``predicate``; the skipped ones go to ``seen``."""
    skipped = [] if seen is None else seen
    async with asyncio.timeout(within):
        for _ in range(max_frames):
            frame = await next_frame(ws, within)
            if predicate(frame):
                return frame
            skipped.append(frame)
    raise AssertionError(f"no matching frame in {max_frames} frames: {skipped[-5:]!r}")


def of_type(kind: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    def match(frame: dict[str, Any]) -> bool:
        return frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items())

    return match


async def silence(ws: aiohttp.ClientWebSocketResponse, seconds: float = SILENCE) -> list[Any]:
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


_ids = count(1)


async def request_frame(
    ws: aiohttp.ClientWebSocketResponse,
    action: str,
    *,
    seen: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Send a request with a fresh id; return the frame that answers that id.

    Frames read before the answer go to ``seen``.
    """
    request_id = next(_ids)
    await send(ws, {"action": action, "id": request_id, **fields})
    return await wait_frame(
        ws,
        lambda f: (
            f.get("id") == request_id
            and f.get("type") in ("subscribed", "unsubscribed", "pong", "error")
        ),
        seen=seen,
    )


async def subscribe(
    ws: aiohttp.ClientWebSocketResponse,
    channel: str,
    account_id: str,
    symbols: list[str] | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"channel": channel, "account_id": account_id}
    if symbols is not None:
        fields["symbols"] = symbols
    frame = await request_frame(ws, "subscribe", **fields)
    assert frame["type"] == "subscribed", frame
    return frame


async def roundtrip(
    ws: aiohttp.ClientWebSocketResponse, seen: list[dict[str, Any]] | None = None
) -> None:
    """A ping answered: the server has the connection and has read all before it.

    Frames read before the pong go to ``seen``.
    """
    frame = await request_frame(ws, "ping", seen=seen)
    assert frame["type"] == "pong", frame
