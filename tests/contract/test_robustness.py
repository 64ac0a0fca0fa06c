"""Nothing escapes the simulator: every REST reply is JSON, one frame never kills a stream.

What a schema fuzzer and hostile inputs found: bodies nested too deep to
decode, times out of the calendar's range, methods a path does not serve,
a plain GET on the stream route, a bug in a route's handler.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator

from .helpers import (
    FULL,
    Api,
    acc,
    assert_error,
    next_frame,
    request_frame,
    roundtrip,
    stream,
)

pytestmark = pytest.mark.anyio

#: Deeper than any JSON decoder recurses (the issue's 1,000 levels).
DEPTH = 1000


def deep(depth: int = DEPTH) -> str:
    return "[" * depth + "]" * depth


# ------------------------------------------------------------------ REST bodies


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(deep(), id="top-level-array"),
        pytest.param('{"server": "Sim-Demo", "login": 1, "password": "p", "x": ' + deep() + "}"),
        pytest.param("{" + '"a": {' * DEPTH + "}" * DEPTH + "}", id="objects"),
    ],
)
async def test_deeply_nested_link_body_is_a_json_400(api: Api, body: str) -> None:
    reply = await api.post("/v1/accounts", data=body, key=FULL)
    assert reply.headers["Content-Type"].startswith("application/json"), reply
    assert_error(reply, 400, "invalid_request")
    assert not api.sim.accounts()


@pytest.mark.parametrize(
    ("method", "tail"),
    [("POST", "orders"), ("PATCH", "orders/ord_0000000000")],
)
async def test_deeply_nested_order_bodies_are_a_json_400(
    api: Api, account_id: str, method: str, tail: str
) -> None:
    body = '{"symbol": "EURUSD", "type": "BUY", "volume": 0.1, "x": ' + deep() + "}"
    reply = await api.request(method, acc(account_id, tail), data=body)
    assert reply.headers["Content-Type"].startswith("application/json"), reply
    assert_error(reply, 400, "invalid_request")
    assert not await api.positions(account_id)


# ------------------------------------------------------------------ stream frames


async def test_deeply_nested_client_message_is_answered_and_the_stream_lives_on(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    async with stream(http, sim) as ws:
        await ws.send_str('{"action": "ping", "id": 41, "x": ' + deep() + "}")
        frame = await next_frame(ws)
        assert frame["type"] == "error", frame
        assert frame["error"] == "invalid_message", frame
        assert "deep" in frame["message"], frame
        await roundtrip(ws)  # the connection still serves requests
        assert not ws.closed


async def test_deeply_nested_message_at_the_top_is_answered(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    async with stream(http, sim) as ws:
        await ws.send_str(deep())
        frame = await next_frame(ws)
        assert frame["type"] == "error", frame
        assert frame["error"] == "invalid_message", frame
        pong = await request_frame(ws, "ping")
        assert pong["type"] == "pong"


# ------------------------------------------------------------------ queries


@pytest.mark.parametrize(
    ("tail", "params"),
    [
        ("history", {"from": "0001-01-01T00:00:00+01:00"}),
        ("history", {"to": "9999-12-31T23:59:59-01:00"}),
        ("candles/EURUSD", {"timeframe": "H1", "from": "0001-01-01T00:30:00+01:00"}),
    ],
)
async def test_times_beyond_the_calendar_are_invalid_time(
    api: Api, account_id: str, tail: str, params: dict[str, str]
) -> None:
    reply = await api.get(acc(account_id, tail), params=params)
    assert_error(reply, 400, "invalid_time")


# ------------------------------------------------------------------ methods, routes


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/accounts", "GET, POST"),
        ("/v1/accounts/{account_id}", "DELETE, GET"),
        ("/v1/accounts/{account_id}/orders", "GET, POST"),
        ("/v1/accounts/{account_id}/orders/ord_1", "DELETE, PATCH"),
        ("/v1/accounts/{account_id}/history", "GET"),
        ("/v1/orders", "GET, POST"),
        ("/v1/quotes/EURUSD", "GET"),
        ("/v1/stream", "GET"),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "HEAD", "OPTIONS"])
async def test_a_method_the_path_does_not_serve_is_405_with_allow(
    api: Api, account_id: str, path: str, allowed: str, method: str
) -> None:
    reply = await api.request(method, path.format(account_id=account_id))
    assert reply.status == 405, reply
    assert reply.headers.get("Allow") == allowed, reply.headers
    if method != "HEAD":  # a HEAD reply has no body
        assert_error(reply, 405, "method_not_allowed")


async def test_unknown_path_is_a_json_404(api: Api) -> None:
    assert_error(await api.get("/v1/nowhere"), 404, "not_found")


async def test_plain_get_on_the_stream_route_is_a_json_400(api: Api) -> None:
    reply = await api.get("/v1/stream")
    assert_error(reply, 400, "websocket_required")
    assert reply.headers.get("Upgrade") == "websocket", reply.headers


async def test_plain_get_on_the_stream_route_without_a_key_is_401(api: Api) -> None:
    assert_error(await api.get("/v1/stream", key=None), 401)


async def test_a_bug_in_a_handler_is_a_json_500(
    api: Api, account_id: str, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(sim.engine, "summary", broken)
    reply = await api.get(acc(account_id, "account"))
    assert_error(reply, 500, "internal_error")
    assert "a bug" not in reply.text  # no internals on the wire
    monkeypatch.undo()
    assert (await api.get(acc(account_id, "account"))).status == 200
