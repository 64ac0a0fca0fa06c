"""Account management: link, list, get, unlink, provisioning, plan and bare routes."""

from __future__ import annotations

from typing import Any

import pytest

from fxsocket_async.simulator import Simulator
from tests.helpers.poll import poll

from .helpers import (
    ACCOUNT_FIELDS,
    FULL,
    Api,
    acc,
    assert_error,
    config,
    next_login,
    parse_time,
    steer,
)

pytestmark = pytest.mark.anyio

PASSWORD = "pw-very-secret-4711"
PER_ACCOUNT_GETS = (
    "account",
    "positions",
    "orders",
    "quotes/EURUSD",
    "candles/EURUSD?timeframe=M1&limit=2",
    "history",
)


async def test_list_is_empty_before_any_link(api: Api) -> None:
    reply = await api.get("/v1/accounts")
    assert reply.status == 200, reply
    assert reply.body == []


async def test_link_returns_connecting_account_with_contract_fields(api: Api) -> None:
    login = next_login()
    reply = await api.link(server="Sim-Demo", login=login, password=PASSWORD, nickname="mine")
    assert reply.status in (200, 201), reply
    body = reply.body
    assert body.keys() >= ACCOUNT_FIELDS, body
    assert body["status"] == "connecting"
    assert body["server"] == "Sim-Demo"
    assert body["login"] == login
    assert body["nickname"] == "mine"
    assert body["error"] == ""
    assert isinstance(body["id"], str)
    assert body["id"]
    assert isinstance(body["platform"], str)
    parse_time(body["created_at"])


async def test_password_never_appears_in_any_reply(api: Api) -> None:
    reply = await api.link(password=PASSWORD)
    account_id = reply.body["id"]
    await steer(api.sim.complete_provisioning(account_id))
    replies = [
        reply,
        await api.get("/v1/accounts"),
        await api.get(f"/v1/accounts/{account_id}"),
        await api.get(acc(account_id, "account")),
    ]
    for each in replies:
        assert PASSWORD not in each.text, each
        assert "password" not in each.text.lower(), each


async def test_account_becomes_connected_after_provision_delay(api: Api) -> None:
    # Polling GET /v1/accounts/{id} is the service's documented provisioning protocol.
    reply = await api.link()
    account_id = reply.body["id"]
    assert reply.body["status"] in ("connecting", "connected"), reply

    async def connected() -> bool:
        return (await api.get(f"/v1/accounts/{account_id}")).body["status"] == "connected"

    await poll(connected, timeout=5, what=f"account {account_id} connected")


async def test_complete_provisioning_connects_at_once(api: Api) -> None:
    account = await api.link_connected()
    assert account["status"] == "connected"
    assert account["error"] == ""


async def test_listed_account_matches_get(api: Api, account: dict[str, Any]) -> None:
    listed = (await api.get("/v1/accounts")).body
    assert listed == [account]


async def test_invalid_password_is_broker_rejected(api: Api) -> None:
    assert_error(await api.link(password="invalid"), 400, "broker_rejected")
    assert (await api.get("/v1/accounts")).body == []


async def test_broken_server_is_accepted_then_fails_provisioning(api: Api) -> None:
    reply = await api.link(server="X-Broken")
    assert reply.status in (200, 201), reply
    assert reply.body["status"] == "connecting"
    account_id = reply.body["id"]
    await steer(api.sim.complete_provisioning(account_id))
    got = await api.get(f"/v1/accounts/{account_id}")
    assert got.body["status"] == "error", got
    assert isinstance(got.body["error"], str), got
    assert got.body["error"], got


async def test_broken_account_routes_are_terminal_not_ready(api: Api) -> None:
    reply = await api.link(server="X-Broken")
    account_id = reply.body["id"]
    await steer(api.sim.complete_provisioning(account_id))
    assert_error(await api.get(acc(account_id, "account")), 503, "terminal_not_ready")


async def test_linking_same_server_and_login_twice_is_already_linked(api: Api) -> None:
    login = next_login()
    first = await api.link(server="Sim-Demo", login=login)
    assert first.status in (200, 201), first
    assert_error(await api.link(server="Sim-Demo", login=login), 409, "already_linked")
    assert len((await api.get("/v1/accounts")).body) == 1


async def test_same_login_on_another_server_is_a_new_account(api: Api) -> None:
    login = next_login()
    assert (await api.link(server="Sim-Demo", login=login)).status in (200, 201)
    assert (await api.link(server="Sim-Live", login=login)).status in (200, 201)


async def test_linking_beyond_the_plan_is_plan_limit(http) -> None:
    async with Simulator(config(plan_limit=1)) as sim:
        api = Api(http, sim)
        assert (await api.link()).status in (200, 201)
        assert_error(await api.link(), 402, "plan_limit")


async def test_unlinking_frees_a_plan_slot(http) -> None:
    async with Simulator(config(plan_limit=1)) as sim:
        api = Api(http, sim)
        first = await api.link()
        assert (await api.delete(f"/v1/accounts/{first.body['id']}")).status == 204
        assert (await api.link()).status in (200, 201)


async def test_get_unknown_account_is_404(api: Api) -> None:
    assert_error(await api.get("/v1/accounts/no-such-account"), 404)


async def test_delete_unknown_account_is_404(api: Api) -> None:
    assert_error(await api.delete("/v1/accounts/no-such-account"), 404)


async def test_per_account_route_of_unknown_account_is_404(api: Api) -> None:
    assert_error(await api.get(acc("no-such-account", "account")), 404)


async def test_unlink_is_204_with_empty_body(api: Api, account_id: str) -> None:
    reply = await api.delete(f"/v1/accounts/{account_id}")
    assert reply.status == 204, reply
    assert reply.text == ""


async def test_unlinked_account_is_gone(api: Api, account_id: str) -> None:
    assert (await api.delete(f"/v1/accounts/{account_id}")).status == 204
    assert_error(await api.get(f"/v1/accounts/{account_id}"), 404)
    assert (await api.get("/v1/accounts")).body == []
    for tail in PER_ACCOUNT_GETS:
        assert_error(await api.get(acc(account_id, tail)), 404)
    reply = await api.order(account_id, symbol="EURUSD", type="BUY", volume=0.1)
    assert_error(reply, 404)


async def test_unlinking_twice_is_404(api: Api, account_id: str) -> None:
    assert (await api.delete(f"/v1/accounts/{account_id}")).status == 204
    assert_error(await api.delete(f"/v1/accounts/{account_id}"), 404)


async def test_per_account_routes_while_connecting_are_terminal_not_ready(http) -> None:
    async with Simulator(config(provision_delay=30)) as sim:
        api = Api(http, sim)
        account_id = (await api.link()).body["id"]
        for tail in PER_ACCOUNT_GETS:
            assert_error(await api.get(acc(account_id, tail)), 503, "terminal_not_ready")
        reply = await api.order(account_id, symbol="EURUSD", type="BUY", volume=0.1)
        assert_error(reply, 503, "terminal_not_ready")
        assert (await api.get(f"/v1/accounts/{account_id}")).body["status"] == "connecting"


async def test_disconnected_account_is_terminal_not_ready(api: Api, account_id: str) -> None:
    await steer(api.sim.set_account_status(account_id, "disconnected"))
    assert (await api.get(f"/v1/accounts/{account_id}")).body["status"] == "disconnected"
    assert_error(await api.get(acc(account_id, "account")), 503, "terminal_not_ready")


async def test_set_account_status_error_shows_its_text(api: Api, account_id: str) -> None:
    await steer(api.sim.set_account_status(account_id, "error", error="broker down"))
    body = (await api.get(f"/v1/accounts/{account_id}")).body
    assert body["status"] == "error"
    assert body["error"] == "broker down"


@pytest.mark.parametrize(
    "body",
    [
        {"server": "Sim-Demo", "password": "pw"},
        {"server": "Sim-Demo", "login": "12345", "password": "pw"},
        {"server": "Sim-Demo", "login": 1.5, "password": "pw"},
        {"login": 12345, "password": "pw"},
        {"server": "Sim-Demo", "login": 12345},
        ["server", "Sim-Demo"],
        {"server": "Sim-Demo", "login": 12345, "password": "pw", "nickname": None},
        {"server": "Sim-Demo", "login": 12345, "password": "pw", "nickname": 7},
    ],
    ids=[
        "no-login",
        "login-string",
        "login-float",
        "no-server",
        "no-password",
        "not-object",
        # The contract's nickname is an optional string: absent, never null.
        "nickname-null",
        "nickname-number",
    ],
)
async def test_invalid_link_body_is_400(api: Api, body: Any) -> None:
    assert_error(await api.post("/v1/accounts", body), 400, "invalid_request")
    assert (await api.get("/v1/accounts")).body == []


async def test_link_body_that_is_not_json_is_400(api: Api) -> None:
    reply = await api.request("POST", "/v1/accounts", data="{server: nope", key=FULL)
    assert_error(reply, 400, "invalid_request")


# ------------------------------------------------------------------ bare routes


async def test_bare_routes_act_on_the_only_account(api: Api, account_id: str) -> None:
    await api.buy(account_id, volume=0.1)
    for tail in PER_ACCOUNT_GETS:
        bare = await api.get(f"/v1/{tail}")
        scoped = await api.get(acc(account_id, tail))
        assert bare.status == 200, (tail, bare)
        if tail != "quotes/EURUSD":  # quote times may differ by a tick
            assert bare.body == scoped.body, tail


async def test_bare_order_route_trades_on_the_only_account(api: Api, account_id: str) -> None:
    reply = await api.post("/v1/orders", {"symbol": "EURUSD", "type": "BUY", "volume": 0.1})
    assert reply.status in (200, 201), reply
    order_id = reply.body["id"]
    assert [p["id"] for p in await api.positions(account_id)] == [order_id]
    closed = await api.delete(f"/v1/orders/{order_id}")
    assert closed.status == 200, closed
    assert await api.positions(account_id) == []


async def test_bare_routes_with_two_accounts_are_account_required(
    api: Api, account_id: str
) -> None:
    await api.link_connected()
    for tail in PER_ACCOUNT_GETS:
        assert_error(await api.get(f"/v1/{tail}"), 400, "account_required")
    reply = await api.post("/v1/orders", {"symbol": "EURUSD", "type": "BUY", "volume": 0.1})
    assert_error(reply, 400, "account_required")
    assert await api.positions(account_id) == []


async def test_bare_routes_ignore_other_owners_accounts(api: Api, account_id: str) -> None:
    await api.link_connected(key="other-owner")
    assert (await api.get("/v1/account")).status == 200
