"""Rate limits: a token bucket per account (per-account routes) and per key (management)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator

from .helpers import FULL, READ, Api, Reply, acc, assert_error, config, stream

pytestmark = pytest.mark.anyio

LIMIT = 5


async def burst(api: Api, path: str, n: int = 20, key: str = FULL) -> list[Reply]:
    return list(await asyncio.gather(*(api.get(path, key=key) for _ in range(n))))


def assert_rate_limited(reply: Reply) -> int:
    assert_error(reply, 429, "rate_limited")
    value = reply.headers.get("Retry-After")
    assert value is not None, reply
    assert value.isdigit(), value  # whole seconds
    assert int(value) >= 1, value
    return int(value)


async def test_burst_on_one_account_gets_429(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(rate_limit=LIMIT)) as sim:
        api = Api(http, sim)
        account_id = (await api.link_connected())["id"]
        replies = await burst(api, acc(account_id, "account"))
        limited = [r for r in replies if r.status == 429]
        ok = [r for r in replies if r.status == 200]
        assert limited, replies
        assert len(ok) >= LIMIT, replies
        assert len(ok) + len(limited) == len(replies), replies
        for reply in limited:
            assert_rate_limited(reply)


async def test_other_account_has_its_own_bucket(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(rate_limit=LIMIT)) as sim:
        api = Api(http, sim)
        first = (await api.link_connected())["id"]
        second = (await api.link_connected())["id"]
        assert any(r.status == 429 for r in await burst(api, acc(first, "positions")))
        assert (await api.get(acc(second, "positions"))).status == 200


async def test_management_routes_are_counted_per_key(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(rate_limit=LIMIT)) as sim:
        api = Api(http, sim)
        replies = await burst(api, "/v1/accounts", key=FULL)
        limited = [r for r in replies if r.status == 429]
        assert limited, replies
        for reply in limited:
            assert_rate_limited(reply)
        assert (await api.get("/v1/accounts", key=READ)).status == 200


async def test_management_burst_leaves_account_routes_alone(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(rate_limit=LIMIT)) as sim:
        api = Api(http, sim)
        account_id = (await api.link_connected())["id"]
        assert any(r.status == 429 for r in await burst(api, "/v1/accounts"))
        assert (await api.get(acc(account_id, "account"))).status == 200


async def test_waiting_retry_after_lets_requests_through(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(rate_limit=LIMIT)) as sim:
        api = Api(http, sim)
        account_id = (await api.link_connected())["id"]
        limited = [r for r in await burst(api, acc(account_id, "orders")) if r.status == 429]
        assert limited
        # Waiting Retry-After is the service's documented protocol, not synchronisation.
        await asyncio.sleep(assert_rate_limited(limited[-1]))
        assert (await api.get(acc(account_id, "orders"))).status == 200


async def test_no_limit_when_disabled(api: Api, account_id: str) -> None:
    replies = await burst(api, acc(account_id, "account"), n=100)
    assert {r.status for r in replies} == {200}


async def test_websocket_handshakes_are_not_rate_limited(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(rate_limit=LIMIT)) as sim:
        for _ in range(3 * LIMIT):
            async with stream(http, sim) as ws:
                assert not ws.closed
