"""Accounts with terminals: platforms, the vendor SDK's link fields, rest_url and ws_url."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator
from tests.helpers.sim import next_login

from ..helpers import Api, assert_error, config, steer
from .helpers import Terminal, assert_terminal_error, connected_account, roundtrip, socket

pytestmark = pytest.mark.anyio

TERMINAL_FIELDS = {
    "rest_url",
    "ws_url",
    "trade_ea_symbol",
    "proxy_address",
    "proxy_type",
    "proxy_local_port",
}


def link_body(**extra: Any) -> dict[str, Any]:
    return {"server": "Sim-Demo", "login": next_login(), "password": "pw-1", **extra}


async def test_an_account_has_no_terminal_urls_until_its_terminal_is_up(
    api: Api, sim: Simulator
) -> None:
    linked = await api.post("/v1/accounts", link_body())
    assert linked.status == 201, linked
    account = linked.body
    assert account["status"] == "connecting"
    assert (account["rest_url"], account["ws_url"]) == ("", "")
    assert account["platform"] == "mt5"
    await steer(sim.complete_provisioning(account["id"]))
    got = (await api.get(f"/v1/accounts/{account['id']}")).body
    assert got["rest_url"] == f"{sim.base_url}/terminal/{account['id']}"
    host = sim.base_url.removeprefix("http://")
    assert got["ws_url"] == f"ws://{host}/terminal/{account['id']}/ws"
    listed = (await api.get("/v1/accounts")).body
    assert [a for a in listed if a["id"] == account["id"]] == [got]


async def test_the_urls_stay_once_the_terminal_was_up(api: Api, sim: Simulator) -> None:
    account = await connected_account(api)
    await steer(sim.set_account_status(account["id"], "disconnected"))
    got = (await api.get(f"/v1/accounts/{account['id']}")).body
    assert got["status"] == "disconnected"
    assert (got["rest_url"], got["ws_url"]) == (account["rest_url"], account["ws_url"])


async def test_a_terminal_that_never_came_up_has_no_urls(api: Api, sim: Simulator) -> None:
    linked = await api.post("/v1/accounts", link_body(server="Sim-Broken"))
    await steer(sim.complete_provisioning(linked.body["id"]))
    got = (await api.get(f"/v1/accounts/{linked.body['id']}")).body
    assert got["status"] == "error"
    assert (got["rest_url"], got["ws_url"]) == ("", "")


@pytest.mark.parametrize("platform", ["mt5", "mt4"])
async def test_both_platforms_link(api: Api, platform: str) -> None:
    account = await connected_account(api, platform=platform)
    assert account["platform"] == platform
    assert account["rest_url"]


@pytest.mark.parametrize("platform", ["mt6", "MT5", None, 5, ""])
async def test_another_platform_is_refused(api: Api, platform: object) -> None:
    reply = await api.post("/v1/accounts", link_body(platform=platform))
    assert_error(reply, 400, "invalid_request")


async def test_the_vendor_sdks_link_fields_are_accepted_and_shown(api: Api) -> None:
    body = link_body(
        platform="mt5",
        nickname="",
        trade_ea_symbol="EURUSDm",
        proxy_address="10.0.0.5:1080",
        proxy_type="socks5",
        proxy_auth="user:secret",
        proxy_local_port=1080,
    )
    reply = await api.post("/v1/accounts", body)
    assert reply.status == 201, reply
    account = reply.body
    assert account["trade_ea_symbol"] == "EURUSDm"
    assert (account["proxy_address"], account["proxy_type"]) == ("10.0.0.5:1080", "socks5")
    assert account["proxy_local_port"] == 1080
    assert "secret" not in reply.text
    assert "pw-1" not in reply.text


async def test_mistyped_vendor_fields_are_ignored_not_refused(api: Api) -> None:
    body = link_body(trade_ea_symbol=5, proxy_local_port="x", proxy_type=None, proxy_auth=[1])
    reply = await api.post("/v1/accounts", body)
    assert reply.status == 201, reply
    account = reply.body
    assert (account["trade_ea_symbol"], account["proxy_type"]) == ("", "")
    assert account["proxy_local_port"] is None


async def test_steering_links_an_mt4_account(sim: Simulator, api: Api) -> None:
    account = await steer(sim.link_account("Sim-Demo", next_login(), platform="mt4"))
    assert account.platform == "mt4"
    got = (await api.get(f"/v1/accounts/{account.id}")).body
    assert got["platform"] == "mt4"
    assert got["rest_url"]


async def test_unlinking_closes_the_accounts_terminal_sockets(
    http: aiohttp.ClientSession, api: Api, account: dict[str, Any]
) -> None:
    async with socket(http, account) as ws:
        await roundtrip(ws)
        assert (await api.delete(f"/v1/accounts/{account['id']}")).status == 204
        async with asyncio.timeout(5):
            msg = await ws.receive()
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        assert ws.close_code == 1001
    reply = await Terminal(http, account).get("/AccountSummary")
    assert_terminal_error(reply, 404, "not_found")


async def test_with_the_terminal_dialect_off_accounts_are_the_references(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(config(terminal=False, terminal_interval=None)) as sim:
        api = Api(http, sim)
        account = (await api.link_connected()) | {}
        assert not TERMINAL_FIELDS & set(account), account
        assert not any(path.startswith("/terminal/") for _, path in sim.routes())
        for route in ("/AccountSummary", "/ws"):
            reply = await api.get(f"/terminal/{account['id']}{route}")
            assert reply.status == 404, reply
            assert reply.body["error"] == "not_found"


async def test_an_account_of_both_dialects_is_one_account(
    api: Api, term: Terminal, account: dict[str, Any]
) -> None:
    summary = await api.summary(account["id"])
    terminal = await term.ok("GET", "/AccountSummary")
    assert terminal["balance"] == summary["balance"]
    assert terminal["freeMargin"] == summary["free_margin"]
