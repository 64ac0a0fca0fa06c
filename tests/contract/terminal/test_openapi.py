"""docs/openapi-terminal.json against the simulator's real terminal replies over 127.0.0.1.

Both ways, as for the reference document: every reply's status is documented
for its operation and its headers and JSON body match the documented schemas
(which allow no other fields); every status each operation documents is one
the simulator really answers; and the router's terminal routes are the
document's.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from fxsocket_async.simulator import Simulator

from ..helpers import FULL, OTHER, READ, Api, config, set_price, steer
from ..openapi_check import TERMINAL, TERMINAL_STREAM, Checker, pointer
from .helpers import connected_account, with_key

pytestmark = pytest.mark.anyio

PREFIX = "/terminal/{account_id}"
TOO_LARGE = b'{"x": "' + b"x" * (1024 * 1024 + 1) + b'"}'
REST = [op for op in TERMINAL.operations() if op[1] != TERMINAL_STREAM]
PROBES = {f"{PREFIX}/healthz", f"{PREFIX}/livez"}


class Clock:
    """Far ahead on every read (buckets always full) until frozen."""

    def __init__(self) -> None:
        self.now = 0.0
        self.frozen = False

    def __call__(self) -> float:
        if not self.frozen:
            self.now += 1000.0
        return self.now

    def freeze(self) -> None:
        self.now += 1000.0
        self.frozen = True


@dataclass
class World:
    sim: Simulator
    api: Api
    check: Checker
    clock: Clock
    account: str  # connected
    down: str  # was connected, now disconnected
    connecting: str  # never came up


@pytest.fixture
async def world(http: aiohttp.ClientSession) -> AsyncIterator[World]:
    clock = Clock()
    settings = config(rate_limit=1, provision_delay=3600, terminal_interval=None)
    async with Simulator(settings, monotonic=clock) as sim:
        api = Api(http, sim)
        account = (await connected_account(api))["id"]
        down = (await connected_account(api))["id"]
        await steer(sim.set_account_status(down, "disconnected"))
        linked = await api.post(
            "/v1/accounts", {"server": "Sim-Demo", "login": 99, "password": "p"}
        )
        check = Checker(api, sim, FULL, spec=TERMINAL)
        yield World(sim, api, check, clock, account, down, linked.body["id"])


def harmless(method: str, template: str) -> dict[str, Any]:
    """A request for the operation that succeeds once past the checks."""
    name = template.removeprefix(PREFIX)
    params = {
        "/getQuote": {"symbol": "EURUSD"},
        "/SymbolInfo": {"symbol": "EURUSD"},
        "/PriceHistory": {"symbol": "EURUSD", "timeframe": "H1"},
        "/OrderCalcMargin": {"symbol": "EURUSD", "operation": "Buy", "volume": "1"},
        "/OrderCalcProfit": {
            "symbol": "EURUSD",
            "operation": "Buy",
            "volume": "1",
            "priceOpen": "1.1",
            "priceClose": "1.2",
        },
    }
    bodies: dict[str, Any] = {
        "/OrderSend": {"symbol": "EURUSD", "operation": "Buy", "volume": 0.01},
        "/OrderModify": {"ticket": 1},
        "/OrderClose": {"ticket": 1},
        "/CloseAll": {},
    }
    request: dict[str, Any] = {"auth": "x-api-key"}
    if name in params:
        request["params"] = params[name]
    if method == "POST":
        request["json_body"] = bodies[name]
    return request


def at(account_id: str) -> dict[str, str]:
    return {"account_id": account_id}


# ------------------------------------------------------------------ the document


def test_document_is_openapi_3_1_with_draft_2020_12_schemas() -> None:
    document = TERMINAL.document
    assert document["openapi"].startswith("3.1.")
    assert document["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    ids = [TERMINAL.operation(m, t)["operationId"] for m, t in TERMINAL.operations()]
    assert len(ids) == len(set(ids))


def test_every_error_is_the_terminal_error_body() -> None:
    for method, template in TERMINAL.operations():
        for status, response in TERMINAL.operation(method, template)["responses"].items():
            where = pointer("paths", template, method.lower(), "responses", status)
            response, _ = TERMINAL.resolve(response, where)
            if int(status) < 400 or template.removeprefix(PREFIX) in ("/healthz", "/livez"):
                continue
            schema = response["content"]["application/json"]["schema"]
            assert {"$ref": "#/components/schemas/Error"} in schema["allOf"], (template, status)


async def test_the_router_serves_exactly_the_documented_terminal_routes(sim: Simulator) -> None:
    terminal = [r for r in sim.routes() if r[1].startswith("/terminal/")]
    assert terminal == TERMINAL.operations()


# ------------------------------------------------------------------- the replies


async def test_every_reply_matches_the_document_and_every_documented_status_occurs(
    world: World, http: aiohttp.ClientSession
) -> None:
    await refusals(world)
    await successes(world)
    await validation(world)
    await stream(world, http)
    await not_served(world)
    missing = {}
    for op in TERMINAL.operations():
        lacking = TERMINAL.documented_statuses(*op) - world.check.seen.get(op, set())
        if lacking:
            missing[" ".join(op)] = sorted(lacking)
    assert not missing, f"documented statuses never provoked: {missing}"


async def refusals(world: World) -> None:
    """What every route shares: 401, 403, 404, 413, 429, 500, 503."""
    check, sim = world.check, world.sim
    for method, template in REST:
        statuses = TERMINAL.documented_statuses(method, template)
        request = harmless(method, template)
        mine = at(world.account)
        if 401 in statuses:
            for key in (None, "nobody", OTHER):
                await check.call(method, template, 401, path=mine, key=key, **request)
        if 403 in statuses:
            await check.call(method, template, 403, path=mine, key=READ, **request)
        await check.call(method, template, 404, path=at("nope"), **request)
        if 503 in statuses:
            await check.call(method, template, 503, path=at(world.down), **request)
        if 413 in statuses:
            big = {k: v for k, v in request.items() if k != "json_body"}
            await check.call(method, template, 413, path=mine, data=io.BytesIO(TOO_LARGE), **big)
        if 429 in statuses:
            world.clock.freeze()
            drain = await world.api.get(f"/v1/accounts/{world.account}/account")
            assert drain.status == 200, drain
            reply = await check.call(method, template, 429, path=mine, **request)
            assert int(reply.headers["Retry-After"]) >= 1
            world.clock.frozen = False
        sim.faults.fail_next(1, account=world.account)
        await check.call(method, template, 500, path=mine, **request)


async def successes(world: World) -> None:
    check = world.check
    mine = at(world.account)
    await set_price(world.sim, "EURUSD", 1.10000, 1.10010)
    for method, template in REST:
        await check.call(method, template, 200, path=mine, **harmless(method, template))
    for probe in PROBES:
        await check.call("GET", probe, 503, path=at(world.down), key=None)
    # Every kind of reply body: a position, a pending order, deals, a round trip.
    send = f"{PREFIX}/OrderSend"
    buy = {"symbol": "EURUSD", "operation": "Buy", "volume": 0.2, "stopLoss": 1.09, "expertId": 4}
    position = (await check.call("POST", send, 200, path=mine, json_body=buy)).body["order"]
    pending = {"symbol": "EURUSD", "operation": "SellStopLimit", "volume": 0.1, "price": 1.09}
    pending |= {"stopLimitPrice": 1.095, "expiration": "2099-01-01"}
    await check.call("POST", send, 200, path=mine, json_body=pending)
    refused = {"symbol": "EURUSD", "operation": "Buy", "volume": 0.015}
    assert not (await check.call("POST", send, 200, path=mine, json_body=refused)).body["success"]
    modify, close = f"{PREFIX}/OrderModify", f"{PREFIX}/OrderClose"
    same = {"ticket": position, "stopLoss": 1.09}
    assert (await check.call("POST", modify, 200, path=mine, json_body=same)).body[
        "retcode"
    ] == 10025
    await check.call("POST", close, 200, path=mine, json_body={"ticket": position, "volume": 0.1})
    await check.call("POST", close, 200, path=mine, json_body={"ticket": position, "volume": 1})
    opened = await check.call("GET", f"{PREFIX}/OpenedOrders", 200, path=mine)
    assert {o["kind"] for o in opened.body} == {"Position", "Pending"}
    await check.call(
        "POST", f"{PREFIX}/CloseAll", 200, path=mine, json_body={"deletePending": True}
    )
    deals = await check.call("GET", f"{PREFIX}/OrderHistory", 200, path=mine)
    assert {d["entry"] for d in deals.body} == {"In", "Out"}
    trips = await check.call("GET", f"{PREFIX}/PositionHistory", 200, path=mine)
    assert position in [t["positionId"] for t in trips.body]
    for symbol in ("USDJPY", "XAUUSD"):
        info = {"params": {"symbol": symbol}}
        await check.call("GET", f"{PREFIX}/SymbolInfo", 200, path=mine, **info)


async def validation(world: World) -> None:
    """400 ``MRPC_VALIDATION`` and 404 ``symbol_not_found`` where they are documented."""
    check = world.check
    mine = at(world.account)
    for method, template in REST:
        statuses = TERMINAL.documented_statuses(method, template)
        if method == "POST":
            await check.call(method, template, 400, path=mine, data="{not json")
            continue
        request = harmless(method, template)
        params = request.get("params")
        if 400 in statuses:
            broken = {"from": "soon"} if params is None else {**params, "symbol": ""}
            await check.call(method, template, 400, path=mine, params=broken)
        if params is not None and "symbol" in params:
            unknown = {**params, "symbol": "NOPE"}
            reply = await check.call(method, template, 404, path=mine, params=unknown)
            assert reply.body["error"] == "symbol_not_found"


async def stream(world: World, http: aiohttp.ClientSession) -> None:
    """The handshake route: 101 for a WebSocket, JSON refusals otherwise."""
    check, sim = world.check, world.sim
    template = TERMINAL_STREAM
    await check.call("GET", template, 401, path=at(world.account), key=None)
    await check.call("GET", template, 404, path=at("nope"))
    reply = await check.call("GET", template, 503, path=at(world.connecting))
    assert reply.body["error"] == "terminal_not_ready"
    reply = await check.call("GET", template, 400, path=at(world.account))
    assert reply.headers["Upgrade"] == "websocket"
    sim.faults.refuse_handshakes(account=world.account)
    reply = await check.call("GET", template, 503, path=at(world.account))
    assert reply.body["error"] == "unavailable"
    sim.faults.accept_handshakes()
    url = with_key(f"{sim.base_url.replace('http', 'ws', 1)}/terminal/{world.account}/ws", FULL)
    async with http.ws_connect(url) as ws:
        await ws.send_json({"action": "list"})
        assert (await ws.receive_json(timeout=5)) == {"type": "subscriptions", "data": []}
    check.seen[("GET", template)].add(101)


async def not_served(world: World) -> None:
    """404 for a path that is not documented, 405 (with Allow) for a method a path lacks."""
    check = world.check
    reply = await world.api.get(f"/terminal/{world.account}/Nowhere")
    assert reply.status == 404, reply
    check.check_global("NotFound", reply, "GET /terminal/.../Nowhere")
    for template in TERMINAL.document["paths"]:
        concrete = template.format(account_id=world.account)
        reply = await world.api.request("PUT", concrete)
        assert reply.status == 405, reply
        check.check_global("MethodNotAllowed", reply, f"PUT {concrete}")
        assert reply.headers["Allow"] == ", ".join(TERMINAL.methods_of(template)), reply.headers
