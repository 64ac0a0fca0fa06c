"""REST through the bridge by request/reply: results, our exceptions by type, and
``orders.create`` recorded by idempotency key so that it never trades twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import anyio
import msgspec
import pytest
from nats.aio.client import Client as NatsClient

from fxsocket_async import BrokerRejectedError, NotFoundError, ValidationError
from fxsocket_async.bridge._rpc_server import SubmissionRecord
from fxsocket_async.bridge._wire import (
    RpcRequest,
    Wire,
    decode_rpc_reply,
    encode_request,
    reply_result,
)
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, OrderReply, Quote

from .conftest import WAIT, bridge_for, link, session

pytestmark = pytest.mark.anyio


async def call(nc: NatsClient, account: str | None, request: RpcRequest) -> object:
    msg = await nc.request(Wire().rpc_subject(account), encode_request(request), timeout=WAIT)
    return reply_result(decode_rpc_reply(msg.data), request.op)


async def test_rest_round_trips_and_errors_by_type(
    sim: Simulator, nats_url: str, nc: NatsClient
) -> None:
    with anyio.fail_after(WAIT * 2):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            async with bridge_for(fx, nats_url, [account.id]):
                quote = await call(nc, account.id, RpcRequest(op="quote", args=["EURUSD"]))
                assert isinstance(quote, Quote)
                assert quote.symbol == "EURUSD"
                listed = await call(nc, None, RpcRequest(op="accounts.list"))
                assert isinstance(listed, list)
                assert account.id in [a.id for a in listed]
                info = await call(nc, account.id, RpcRequest(op="info"))
                assert isinstance(info, Account)
                assert info.id == account.id
                with pytest.raises(NotFoundError) as missing:
                    await call(nc, None, RpcRequest(op="accounts.get", args=["no-such-account"]))
                assert missing.value.status == 404
                with pytest.raises(ValidationError):
                    await call(nc, account.id, RpcRequest(op="orders.delete_everything"))
                with pytest.raises(ValidationError):
                    await call(nc, account.id, RpcRequest(op="quote", kwargs={"nope": 1}))
                with pytest.raises(ValidationError):  # refused before anything is sent
                    await call(nc, account.id, RpcRequest(
                        op="orders.create", args=["EURUSD", "BUY", float("nan")],
                        idempotency_key="k-nan",
                    ))  # fmt: skip
                with pytest.raises(BrokerRejectedError) as rejected:
                    await call(nc, account.id, RpcRequest(
                        op="orders.create", args=["EURUSD", "BUY", 90.0],
                        idempotency_key=f"k-{uuid.uuid4()}",
                    ))  # fmt: skip
                assert rejected.value.code


async def test_a_submission_is_done_once_and_a_pending_one_is_resolved(
    sim: Simulator, nats_url: str, nc: NatsClient
) -> None:
    with anyio.fail_after(WAIT * 2):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            create = RpcRequest(
                op="orders.create", args=["EURUSD", "BUY", 0.1], idempotency_key=f"k-{uuid.uuid4()}"
            )
            async with bridge_for(fx, nats_url, [account.id]):
                first = await call(nc, account.id, create)
                again = await call(nc, account.id, create)  # a re-send: the stored reply
                assert isinstance(first, OrderReply)
                assert again == first
                kv = await nc.jetstream().key_value(Wire().orders_bucket)
                entry = await kv.get(Wire.order_key(create.idempotency_key or ""))
                record = msgspec.json.decode(entry.value or b"", type=SubmissionRecord)
                assert record.state == "done"
                # A bridge that died after recording "pending" and sending: the
                # order exists upstream, the record says pending.
                pending = RpcRequest(
                    op="orders.create", args=["GBPUSD", "SELL", 0.1],
                    idempotency_key=f"k-{uuid.uuid4()}",
                )  # fmt: skip
                placed = await fx.account(account.id).orders.create(
                    "GBPUSD", "SELL", 0.1, idempotency_key=pending.idempotency_key
                )
                stale = SubmissionRecord(state="pending", request=pending, at=datetime.now(UTC))
                await kv.put(
                    Wire.order_key(pending.idempotency_key or ""), msgspec.json.encode(stale)
                )
                resolved = await call(nc, account.id, pending)
                assert isinstance(resolved, OrderReply)
                assert resolved.id == placed.id
            positions = await fx.account(account.id).positions()
            assert sorted(p.id for p in positions) == sorted([first.id, placed.id])
