"""Idempotency-Key on POST .../orders."""

from __future__ import annotations

import pytest

from .helpers import Api, acc, assert_error, stream, subscribe, wait_frame

pytestmark = pytest.mark.anyio

BODY = {"symbol": "EURUSD", "type": "BUY", "volume": 0.1}


async def place(api: Api, account_id: str, body: dict, key: str | None):
    headers = {"Idempotency-Key": key} if key is not None else None
    return await api.post(acc(account_id, "orders"), body, headers=headers)


async def test_replay_returns_the_stored_reply(api: Api, account_id: str) -> None:
    first = await place(api, account_id, BODY, "key-1")
    assert first.status in (200, 201), first
    again = await place(api, account_id, BODY, "key-1")
    assert again.status == first.status
    assert again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") in (None, "false")


async def test_replay_trades_nothing(http, api: Api, account_id: str) -> None:
    async with stream(http, api.sim) as ws:
        await subscribe(ws, "orders", account_id)
        first = await place(api, account_id, BODY, "key-1")
        await place(api, account_id, BODY, "key-1")
        marker = await place(api, account_id, {**BODY, "symbol": "GBPUSD"}, None)
        seen: list[dict] = []
        await wait_frame(
            ws,
            lambda f: f.get("type") == "order_opened" and f["data"]["id"] == marker.body["id"],
            seen=seen,
        )
    opened = [f for f in seen if f.get("type") == "order_opened"]
    assert [f["data"]["id"] for f in opened] == [first.body["id"]]
    positions = await api.positions(account_id)
    assert sorted(p["id"] for p in positions) == sorted([first.body["id"], marker.body["id"]])


async def test_replay_of_a_pending_order_is_stored_too(api: Api, account_id: str) -> None:
    body = {"symbol": "EURUSD", "type": "BUY_STOP", "volume": 0.1, "price": 5.0}
    first = await place(api, account_id, body, "pending-key")
    again = await place(api, account_id, body, "pending-key")
    assert first.status in (200, 201), first
    assert again.body == first.body
    assert len(await api.pending(account_id)) == 1


async def test_same_key_with_another_body_is_idempotency_conflict(
    api: Api, account_id: str
) -> None:
    assert (await place(api, account_id, BODY, "key-1")).status in (200, 201)
    reply = await place(api, account_id, {**BODY, "volume": 0.2}, "key-1")
    assert_error(reply, 409, "idempotency_conflict")
    assert len(await api.positions(account_id)) == 1


async def test_different_keys_trade_twice(api: Api, account_id: str) -> None:
    first = await place(api, account_id, BODY, "key-1")
    second = await place(api, account_id, BODY, "key-2")
    assert first.body["id"] != second.body["id"]
    assert len(await api.positions(account_id)) == 2


async def test_no_key_trades_every_time(api: Api, account_id: str) -> None:
    await place(api, account_id, BODY, None)
    await place(api, account_id, BODY, None)
    assert len(await api.positions(account_id)) == 2


async def test_key_of_129_chars_is_invalid_idempotency_key(api: Api, account_id: str) -> None:
    assert_error(await place(api, account_id, BODY, "k" * 129), 400, "invalid_idempotency_key")
    assert await api.positions(account_id) == []


async def test_key_of_128_chars_is_accepted(api: Api, account_id: str) -> None:
    reply = await place(api, account_id, BODY, "k" * 128)
    assert reply.status in (200, 201), reply


async def test_failed_attempt_is_not_stored(api: Api, account_id: str) -> None:
    assert_error(await place(api, account_id, {**BODY, "volume": 0}, "retry-key"), 400)
    reply = await place(api, account_id, BODY, "retry-key")
    assert reply.status in (200, 201), reply
    assert len(await api.positions(account_id)) == 1


async def test_keys_are_per_account(api: Api, account_id: str) -> None:
    other = (await api.link_connected())["id"]
    first = await place(api, account_id, BODY, "shared-key")
    second = await place(api, other, BODY, "shared-key")
    assert second.status in (200, 201), second
    assert second.body["id"] != first.body["id"]
    assert len(await api.positions(other)) == 1
