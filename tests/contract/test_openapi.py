"""docs/openapi.json against the simulator's real replies over 127.0.0.1.

Both ways: every reply's status is documented for its operation and its
headers and JSON body match the documented schemas; and every status each
operation documents is one the simulator really answers (the conformance
run below provokes each). The router's routes and the document's are the same.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from fxsocket_async.simulator import ApiKey, Simulator
from tests.helpers.sim import next_login, sim_config

from .helpers import Api, next_frame, send, set_price
from .openapi_check import (
    DOCUMENT,
    STREAM,
    Checker,
    documented_statuses,
    methods_of,
    operation,
    operations,
    pointer,
    resolve,
)

pytestmark = pytest.mark.anyio

A_FULL, A_TRADE, A_READ = "a-full", "a-trade", "a-read"  # owner a: one connected account
B_FULL = "b-full"  # owner b: two accounts, so the bare routes are ambiguous
C_FULL = "c-full"  # owner c: no account
D_FULL = "d-full"  # owner d: one account whose terminal is still provisioning
KEYS = (
    ApiKey(A_FULL, "full", owner="a"),
    ApiKey(A_TRADE, "trade", owner="a"),
    ApiKey(A_READ, "read", owner="a"),
    ApiKey(B_FULL, "full", owner="b"),
    ApiKey(C_FULL, "full", owner="c"),
    ApiKey(D_FULL, "full", owner="d"),
)
PLAN_LIMIT = 2
NO_ORDER = "ord_0000000000"
PER_ACCOUNT = "/v1/accounts/{account_id}"
TOO_LARGE = b'{"x": "' + b"x" * (1024 * 1024 + 1) + b'"}'


class Clock:
    """The simulator's monotonic clock: far ahead on every read (the rate limit's
    buckets always full) until frozen, when a second request in a bucket is 429."""

    def __init__(self) -> None:
        self.now = 0.0
        self.frozen = False

    def __call__(self) -> float:
        if not self.frozen:
            self.now += 1000.0
        return self.now

    def freeze(self) -> None:
        self.now += 1000.0  # every bucket refills one last time
        self.frozen = True


@dataclass
class World:
    sim: Simulator
    api: Api
    check: Checker
    clock: Clock
    account: str  # owner a's
    connecting: str  # owner d's
    seen_stream: set[int] = field(default_factory=set)


@pytest.fixture
async def world(http: aiohttp.ClientSession) -> AsyncIterator[World]:
    clock = Clock()
    config = sim_config(api_keys=KEYS, rate_limit=1, plan_limit=PLAN_LIMIT, provision_delay=3600)
    async with Simulator(config, monotonic=clock) as sim:
        api = Api(http, sim)
        account = (await api.link_connected(key=A_FULL))["id"]
        for _ in range(PLAN_LIMIT):
            await api.link_connected(key=B_FULL)
        linked = await api.link(key=D_FULL)
        assert linked.status == 201, linked
        yield World(sim, api, Checker(api, sim, A_FULL), clock, account, linked.body["id"])


def is_bare(template: str) -> bool:
    return not template.startswith("/v1/accounts")


def is_per_account(template: str) -> bool:
    return template.startswith(PER_ACCOUNT + "/")


def harmless(method: str, template: str) -> dict[str, Any]:
    """A request for the operation that would succeed once past the checks."""
    request: dict[str, Any] = {}
    if (method, template) == ("POST", "/v1/accounts"):
        request["json_body"] = {"server": "Sim-Demo", "login": next_login(), "password": "pw"}
    elif method == "POST":
        request["json_body"] = {"symbol": "EURUSD", "type": "BUY", "volume": 0.01}
    elif method == "PATCH":
        request["json_body"] = {"sl": 1.0}
    if template.endswith("/candles/{symbol}"):
        request["params"] = {"timeframe": "H1", "limit": "2"}
    return request


def path_for(account_id: str) -> dict[str, str]:
    return {"account_id": account_id, "order_id": NO_ORDER, "symbol": "EURUSD"}


REST = [op for op in operations() if op[1] != STREAM]


# ------------------------------------------------------------------ the document


def test_document_is_openapi_3_1_with_draft_2020_12_schemas() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    assert DOCUMENT["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    for schema in DOCUMENT["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"]["scheme"] == "bearer"


def test_every_operation_has_an_id_and_every_error_is_the_error_body() -> None:
    ids = [operation(m, t)["operationId"] for m, t in operations()]
    assert len(ids) == len(set(ids))
    for method, template in operations():
        for status, response in operation(method, template)["responses"].items():
            at = pointer("paths", template, method.lower(), "responses", status)
            response, at = resolve(response, at)
            if int(status) < 400:
                continue
            schema = response["content"]["application/json"]["schema"]
            refs = [schema.get("$ref")] + [s.get("$ref") for s in schema.get("allOf", [])]
            assert "#/components/schemas/Error" in refs, (method, template, status)


def test_headers_of_the_contract_are_documented() -> None:
    create = operation("POST", f"{PER_ACCOUNT}/orders")
    names = [resolve(p, "")[0]["name"] for p in create["parameters"]]
    assert "Idempotency-Key" in names
    assert "Idempotent-Replayed" in create["responses"]["200"]["headers"]
    for method, template in REST:
        limited, _ = resolve(operation(method, template)["responses"]["429"], "")
        assert "Retry-After" in limited["headers"], (method, template)


async def test_the_router_serves_exactly_the_documented_routes(sim: Simulator) -> None:
    # The terminal dialect's routes are docs/openapi-terminal.json's (tests/contract/terminal).
    reference = [r for r in sim.routes() if not r[1].startswith("/terminal/")]
    assert reference == operations()


# ------------------------------------------------------------------ the replies


async def test_every_reply_matches_the_document_and_every_documented_status_occurs(
    world: World, http: aiohttp.ClientSession
) -> None:
    await refusals(world)
    await management(world)
    for template_prefix, path in ((PER_ACCOUNT, {"account_id": world.account}), ("/v1", {})):
        await trading(world, template_prefix, path)
    await stream(world, http)
    await not_served(world)
    seen = {**world.check.seen, ("GET", STREAM): world.seen_stream}
    missing = {}
    for op in operations():
        lacking = documented_statuses(*op) - seen.get(op, set())
        if lacking:
            missing[" ".join(op)] = sorted(lacking)
    assert not missing, f"documented statuses never provoked: {missing}"


async def refusals(world: World) -> None:
    """The checks every route shares: 401, 403, 404, 400 account_required, 429, 503, 413, 500."""
    check, sim = world.check, world.sim
    for method, template in REST:
        statuses = documented_statuses(method, template)
        request = harmless(method, template)
        mine = path_for(world.account)
        await check.call(method, template, 401, path=mine, key=None, **request)
        await check.call(method, template, 401, path=mine, key="nobody", **request)
        if 403 in statuses:
            await check.call(method, template, 403, path=mine, key=A_READ, **request)
        if template == "/v1/accounts/{account_id}":
            await check.call(method, template, 404, path=path_for("nope"))
        if is_per_account(template):
            await check.call(method, template, 404, path=path_for("nope"), **request)
            connecting = path_for(world.connecting)
            await check.call(method, template, 503, path=connecting, key=D_FULL, **request)
        if is_bare(template):
            await check.call(method, template, 404, path=mine, key=C_FULL, **request)
            await check.call(method, template, 400, path=mine, key=B_FULL, **request)
            await check.call(method, template, 503, path=mine, key=D_FULL, **request)
        if 413 in statuses:
            big = {k: v for k, v in request.items() if k != "json_body"}
            await check.call(method, template, 413, path=mine, data=io.BytesIO(TOO_LARGE), **big)
        # 429: the bucket (the account's, or the key's for management) emptied first.
        world.clock.freeze()
        managed = not (is_bare(template) or is_per_account(template))
        drain = "/v1/accounts" if managed else f"/v1/accounts/{world.account}/account"
        assert (await world.api.get(drain, key=A_FULL)).status == 200
        reply = await check.call(method, template, 429, path=mine, **request)
        world.clock.frozen = False
        assert int(reply.headers["Retry-After"]) >= 1
        sim.faults.fail_next(1)
        await check.call(method, template, 500, path=mine, **request)


async def management(world: World) -> None:
    check, api = world.check, world.api
    listed = await check.call("GET", "/v1/accounts", 200)
    assert [a["id"] for a in listed.body] == [world.account]
    await check.call("GET", "/v1/accounts/{account_id}", 200, path={"account_id": world.account})
    link = "/v1/accounts"
    # Refusals first: at the plan's limit every link is 402 before the broker is asked.
    rejected = {"server": "Sim-Demo", "login": next_login(), "password": "invalid"}
    reply = await check.call("POST", link, 400, json_body=rejected)
    assert reply.body["error"] == "broker_rejected"
    for bad in (
        {"server": "Sim-Demo", "login": next_login(), "password": "pw", "nickname": None},
        {"server": "Sim-Demo", "login": "123", "password": "pw"},
        {"server": " ", "login": next_login(), "password": "pw"},
    ):
        reply = await check.call("POST", link, 400, json_body=bad)
        assert reply.body["error"] == "invalid_request", reply
    await check.call("POST", link, 400, data="{not json")
    body = {"server": "Sim-Demo", "login": next_login(), "password": "pw", "nickname": "two"}
    second = await check.call("POST", link, 201, json_body=body)
    await check.call("POST", link, 409, json_body=body)
    full = {"server": "Sim-Demo", "login": next_login(), "password": "pw"}
    await check.call("POST", link, 402, json_body=full, key=B_FULL)
    await check.call("POST", link, 403, json_body=full, key=A_TRADE)
    gone = {"account_id": second.body["id"]}
    await check.call("DELETE", "/v1/accounts/{account_id}", 204, path=gone)
    await check.call("DELETE", "/v1/accounts/{account_id}", 404, path=gone)
    assert [a["id"] for a in (await api.get("/v1/accounts", key=A_FULL)).body] == [world.account]


async def trading(world: World, prefix: str, path: dict[str, str]) -> None:
    """Every trading and market-data route of one form: successes and their refusals."""
    check = world.check
    await set_price(world.sim, "EURUSD", 1.10000, 1.10010)
    orders = f"{prefix}/orders"
    one = f"{prefix}/orders/{{order_id}}"

    def at(order_id: str) -> dict[str, str]:
        return {**path, "order_id": order_id}

    async def place(expect: int, **body: Any) -> Any:
        return await check.call("POST", orders, expect, path=path, json_body=body)

    async def refused(code: str, **body: Any) -> None:
        assert (await place(400, **body)).body["error"] == code

    await check.call("GET", f"{prefix}/account", 200, path=path)
    position = (await place(200, symbol="EURUSD", type="BUY", volume=0.1, sl=1.05)).body
    pending = (await place(200, symbol="EURUSD", type="BUY_LIMIT", volume=0.1, price=1.09)).body
    assert (position["status"], pending["status"]) == ("filled", "pending")
    keyed = {"Idempotency-Key": f"k-{prefix}"}
    body = {"symbol": "EURUSD", "type": "SELL", "volume": 0.01}
    first = await check.call("POST", orders, 200, path=path, json_body=body, headers=keyed)
    again = await check.call("POST", orders, 200, path=path, json_body=body, headers=keyed)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.body == first.body
    other = {**body, "volume": 0.02}
    await check.call("POST", orders, 409, path=path, json_body=other, headers=keyed)
    long_key = {"Idempotency-Key": "k" * 129}
    reply = await check.call("POST", orders, 400, path=path, json_body=body, headers=long_key)
    assert reply.body["error"] == "invalid_idempotency_key"
    await refused("invalid_volume", symbol="EURUSD", type="BUY", volume=0.001)
    await refused("invalid_symbol", symbol="NOPE", type="BUY", volume=0.1)
    await refused("invalid_type", symbol="EURUSD", type="BUY_NOW", volume=0.1)
    await refused("invalid_price", symbol="EURUSD", type="BUY", volume=0.1, price=1.1)
    await refused("invalid_stops", symbol="EURUSD", type="BUY", volume=0.1, sl=1.2)
    await refused("not_enough_money", symbol="XAUUSD", type="BUY", volume=100)
    await refused("invalid_request", symbol="EURUSD", type="BUY")

    listed = await check.call("GET", f"{prefix}/positions", 200, path=path)
    assert {p["id"] for p in listed.body} == {position["id"], first.body["id"]}
    pendings = await check.call("GET", orders, 200, path=path)
    assert [o["id"] for o in pendings.body] == [pending["id"]]

    async def patch(order_id: str, expect: int, body: Any) -> Any:
        return await check.call("PATCH", one, expect, path=at(order_id), json_body=body)

    assert (await patch(position["id"], 200, {"sl": 1.06, "tp": 0})).body["updated"]
    assert (await patch(pending["id"], 200, {"price": 1.08})).body["price"] == 1.08
    assert (await patch(position["id"], 400, {"volume": 1})).body["error"] == "immutable_field"
    assert (await patch(position["id"], 400, {})).body["error"] == "invalid_request"
    assert (await patch(position["id"], 400, {"sl": 1.5})).body["error"] == "invalid_stops"
    assert (await patch(position["id"], 400, {"price": 1.0})).body["error"] == "invalid_price"
    assert (await patch(NO_ORDER, 404, {"sl": 1.0})).body["error"] == "order_not_found"

    closed = await check.call("DELETE", one, 200, path=at(position["id"]))
    cancelled = await check.call("DELETE", one, 200, path=at(pending["id"]))
    assert (closed.body["status"], cancelled.body["status"]) == ("closed", "cancelled")
    await check.call("DELETE", one, 200, path=at(first.body["id"]))
    missing = await check.call("DELETE", one, 404, path=at(position["id"]))
    assert missing.body["error"] == "order_not_found"

    quotes = f"{prefix}/quotes/{{symbol}}"
    await check.call("GET", quotes, 200, path={**path, "symbol": "EURUSD"})
    await check.call("GET", quotes, 404, path={**path, "symbol": "NOPE"})

    await candles(check, f"{prefix}/candles/{{symbol}}", path)
    await history(check, f"{prefix}/history", path)


async def candles(check: Checker, template: str, path: dict[str, str]) -> None:
    euro = {**path, "symbol": "EURUSD"}

    async def get(expect: int, symbol: str = "EURUSD", **params: str) -> Any:
        return await check.call(
            "GET", template, expect, path={**euro, "symbol": symbol}, params=params
        )

    assert len((await get(200, timeframe="H1", limit="3")).body["candles"]) == 3
    ranged = await get(200, timeframe="M5", **{"from": "2026-01-05T00:00:00Z"}, limit="2")
    assert [c["time"] for c in ranged.body["candles"]] == [
        "2026-01-05T00:00:00Z",
        "2026-01-05T00:05:00Z",
    ]
    cases: list[tuple[str, dict[str, str]]] = [
        ("invalid_timeframe", {"timeframe": "H2"}),
        ("invalid_time", {"timeframe": "H1", "from": "yesterday"}),
        ("invalid_range", {"timeframe": "H1", "from": "2026-02-01", "to": "2026-01-01"}),
        ("invalid_limit", {"timeframe": "H1", "limit": "0"}),
    ]
    for code, params in cases:
        assert (await get(400, **params)).body["error"] == code
    assert (await get(404, "NOPE", timeframe="H1")).body["error"] == "invalid_symbol"


async def history(check: Checker, template: str, path: dict[str, str]) -> None:
    async def get(expect: int, **params: str) -> Any:
        return await check.call("GET", template, expect, path=path, params=params)

    page = (await get(200)).body
    statuses = sorted({t["status"] for t in page["trades"]})
    assert statuses == ["cancelled", "closed"], page  # both kinds of entry are checked
    assert (await get(200, type="BUY_LIMIT", limit="1", offset="0")).body["total"] >= 1
    cases: list[tuple[str, dict[str, str]]] = [
        ("invalid_type", {"type": "AAA"}),
        ("invalid_limit", {"limit": "1001"}),
        ("invalid_offset", {"offset": "-1"}),
        ("invalid_range", {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
        ("invalid_time", {"to": "soon"}),
    ]
    for code, params in cases:
        assert (await get(400, **params)).body["error"] == code


async def stream(world: World, http: aiohttp.ClientSession) -> None:
    """The handshake route: 101 for a WebSocket, JSON refusals otherwise."""
    check, seen = world.check, world.seen_stream
    await check.call("GET", STREAM, 401, key=None)
    reply = await check.call("GET", STREAM, 400)
    assert reply.headers["Upgrade"] == "websocket"
    world.sim.faults.refuse_handshakes()
    await check.call("GET", STREAM, 503)
    world.sim.faults.accept_handshakes()
    headers = {"Authorization": f"Bearer {A_FULL}"}
    async with http.ws_connect(world.sim.ws_url, headers=headers) as ws:
        await send(ws, {"action": "ping", "id": 1})
        assert await next_frame(ws) == {"type": "pong", "id": 1}
    assert 101 in documented_statuses("GET", STREAM)
    seen.update(check.seen[("GET", STREAM)] | {101})


async def not_served(world: World) -> None:
    """404 for a path that is not documented, 405 (with Allow) for a method a path lacks."""
    check = world.check
    reply = await world.api.get("/v1/nowhere")
    assert reply.status == 404, reply
    check.check_global("NotFound", reply, "GET /v1/nowhere")
    for template in DOCUMENT["paths"]:
        concrete = template.format(account_id=world.account, order_id=NO_ORDER, symbol="EURUSD")
        reply = await world.api.request("PUT", concrete)
        assert reply.status == 405, reply
        check.check_global("MethodNotAllowed", reply, f"PUT {concrete}")
        assert reply.headers["Allow"] == ", ".join(methods_of(template)), reply.headers
