"""Authentication and key scopes (401, 403) and owner isolation (404)."""

from __future__ import annotations

import aiohttp
import pytest

from .helpers import FULL, OTHER, READ, TRADE, Api, acc, assert_error, stream

pytestmark = pytest.mark.anyio

WS_UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def test_missing_key_on_management_route_is_401_with_error_body(api: Api) -> None:
    assert_error(await api.get("/v1/accounts", key=None), 401)


async def test_missing_key_on_per_account_route_is_401(api: Api, account_id: str) -> None:
    assert_error(await api.get(acc(account_id, "account"), key=None), 401)


async def test_missing_key_on_bare_route_is_401(api: Api, account_id: str) -> None:
    assert_error(await api.get("/v1/account", key=None), 401)


async def test_unknown_key_is_401(api: Api, account_id: str) -> None:
    assert_error(await api.get("/v1/accounts", key="nope"), 401)
    assert_error(await api.get(acc(account_id, "positions"), key="nope"), 401)


async def test_malformed_authorization_header_is_401(api: Api) -> None:
    reply = await api.get("/v1/accounts", key=None, headers={"Authorization": f"Basic {FULL}"})
    assert_error(reply, 401)


async def test_websocket_handshake_without_key_is_401(http, sim) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        async with stream(http, sim, key=None):
            pass
    assert caught.value.status == 401


async def test_websocket_handshake_with_unknown_key_is_401(http, sim) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        async with stream(http, sim, key="nope"):
            pass
    assert caught.value.status == 401


async def test_websocket_handshake_refusal_carries_error_body(api: Api) -> None:
    reply = await api.get("/v1/stream", key=None, headers=WS_UPGRADE)
    assert_error(reply, 401)


async def test_x_api_key_accepted_on_per_account_route(api: Api, account_id: str) -> None:
    reply = await api.get(acc(account_id, "account"), auth="x-api-key")
    assert reply.status == 200, reply


async def test_bearer_accepted_on_management_route(api: Api, account_id: str) -> None:
    reply = await api.get("/v1/accounts", auth="bearer")
    assert reply.status == 200, reply
    assert [a["id"] for a in reply.body] == [account_id]


async def test_x_api_key_accepted_on_websocket_handshake(http, sim) -> None:
    async with stream(http, sim, key=None, headers={"X-API-Key": FULL}) as ws:
        assert not ws.closed


async def test_read_key_may_get_every_route(api: Api, account_id: str) -> None:
    routes = [
        "/v1/accounts",
        f"/v1/accounts/{account_id}",
        acc(account_id, "account"),
        acc(account_id, "positions"),
        acc(account_id, "orders"),
        acc(account_id, "quotes/EURUSD"),
        acc(account_id, "candles/EURUSD?timeframe=H1&limit=3"),
        acc(account_id, "history"),
    ]
    for route in routes:
        reply = await api.get(route, key=READ)
        assert reply.status == 200, (route, reply)


async def test_read_key_may_not_place_an_order(api: Api, account_id: str) -> None:
    reply = await api.order(account_id, key=READ, symbol="EURUSD", type="BUY", volume=0.1)
    assert_error(reply, 403)
    assert await api.positions(account_id) == []


async def test_read_key_may_not_modify_or_close_an_order(api: Api, account_id: str) -> None:
    order = await api.buy(account_id, volume=0.1)
    route = acc(account_id, f"orders/{order['id']}")
    assert_error(await api.patch(route, {"sl": 0.5}, key=READ), 403)
    assert_error(await api.delete(route, key=READ), 403)
    assert len(await api.positions(account_id)) == 1


async def test_read_key_may_not_link_or_unlink(api: Api, account_id: str) -> None:
    assert_error(await api.link(key=READ), 403)
    assert_error(await api.delete(f"/v1/accounts/{account_id}", key=READ), 403)


async def test_trade_key_may_trade(api: Api, account_id: str) -> None:
    reply = await api.order(account_id, key=TRADE, symbol="EURUSD", type="BUY", volume=0.1)
    assert reply.status in (200, 201), reply
    route = acc(account_id, f"orders/{reply.body['id']}")
    patched = await api.patch(route, {"sl": 0.5}, key=TRADE)
    assert patched.status == 200, patched
    closed = await api.delete(route, key=TRADE)
    assert closed.status == 200, closed


async def test_trade_key_may_not_link_or_unlink(api: Api, account_id: str) -> None:
    assert_error(await api.link(key=TRADE), 403)
    assert_error(await api.delete(f"/v1/accounts/{account_id}", key=TRADE), 403)
    assert (await api.get(f"/v1/accounts/{account_id}", key=TRADE)).status == 200


async def test_keys_of_one_owner_see_the_same_accounts(api: Api, account_id: str) -> None:
    for key in (FULL, TRADE, READ):
        reply = await api.get("/v1/accounts", key=key)
        assert [a["id"] for a in reply.body] == [account_id], (key, reply)


async def test_other_owner_sees_no_accounts(api: Api, account_id: str) -> None:
    reply = await api.get("/v1/accounts", key=OTHER)
    assert reply.status == 200, reply
    assert reply.body == []


async def test_other_owners_account_is_404(api: Api, account_id: str) -> None:
    assert_error(await api.get(f"/v1/accounts/{account_id}", key=OTHER), 404)
    assert_error(await api.get(acc(account_id, "account"), key=OTHER), 404)
    assert_error(await api.get(acc(account_id, "positions"), key=OTHER), 404)
    reply = await api.order(account_id, key=OTHER, symbol="EURUSD", type="BUY", volume=0.1)
    assert_error(reply, 404)
    assert_error(await api.delete(f"/v1/accounts/{account_id}", key=OTHER), 404)
    assert (await api.get(f"/v1/accounts/{account_id}")).status == 200


async def test_other_owners_order_id_is_404(api: Api, account_id: str) -> None:
    mine = await api.link_connected(key=OTHER)
    order = await api.buy(account_id, volume=0.1)
    reply = await api.delete(acc(mine["id"], f"orders/{order['id']}"), key=OTHER)
    assert_error(reply, 404)
    assert len(await api.positions(account_id)) == 1
