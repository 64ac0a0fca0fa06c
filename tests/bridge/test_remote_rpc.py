"""``RemoteFxSocket``: connecting, refusing bad input before sending, REST through the bridge.

A real nats-server and, where a bridge answers, the real simulator behind an
in-process ``Bridge``; the remote side talks to them only over NATS.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fxsocket_async import (
    REMOVE,
    ConnectionFailedError,
    NotFoundError,
    SessionClosedError,
    ValidationError,
)
from fxsocket_async.bridge import BridgeUnavailableError, RemoteFxSocket
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, AccountSummary, Candle, HistoryPage, OrderReply, Quote
from tests.stream.conftest import make_streaming_client

from .conftest import FAST_STREAM, WAIT, bridge_for, sim_config

pytestmark = pytest.mark.anyio


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_nats_is_a_connection_failure_naming_the_url_without_credentials() -> (
    None
):
    url = f"nats://bot:s3cret-pw@127.0.0.1:{closed_port()}"
    remote = RemoteFxSocket(nats=url, connect_timeout=0.3)
    assert "s3cret" not in repr(remote)
    with pytest.raises(ConnectionFailedError) as caught:
        await remote.__aenter__()
    error = caught.value
    assert "127.0.0.1" in error.message
    assert "s3cret" not in str(error)
    assert "s3cret" not in repr(error)
    assert error.__cause__ is None
    assert error.__context__ is None


async def test_without_a_bridge_calls_and_feeds_say_so(nats_url: str) -> None:
    async with RemoteFxSocket(nats=nats_url, request_timeout=0.3) as fx:
        with pytest.raises(BridgeUnavailableError, match="no bridge answers quote"):
            await fx.account("acc-1").quote("EURUSD")
        with pytest.raises(BridgeUnavailableError, match="FXSOCKET_EVENTS"):
            async with fx.events(account="acc-1"):
                pass
        assert fx.stats()["rpc"]["resends"] >= 1  # it kept asking until its deadline


async def test_bad_input_is_refused_before_anything_is_sent(nats_url: str) -> None:
    async with RemoteFxSocket(nats=nats_url, request_timeout=0.3) as fx:
        account = fx.account("acc-1")
        refused: list[Any] = [
            account.orders.create("EURUSD", "BUY", float("nan")),
            account.orders.create("EURUSD", "BUY", 0),
            account.orders.create("EURUSD", "BUY", float("inf")),
            account.orders.create("EURUSD", "BUY", 0.1, price=1.1),
            account.orders.create("EURUSD", "HOLD", 0.1),
            account.orders.create("", "BUY", 0.1),
            account.orders.create("EURUSD", "BUY", 0.1, idempotency_key=""),
            account.orders.modify("o-1", sl=0),
            account.orders.modify("o-1"),
            account.orders.close("o-1", volume=-1),
            account.candles("EURUSD", "M7"),
            account.quote(""),
        ]
        for call in refused:
            with pytest.raises(ValidationError):
                await call
        with pytest.raises(ValidationError):
            fx.events(account="acc-1", durable="has.dots")
        with pytest.raises(ValidationError):
            fx.quotes(account="acc-1")
        assert fx.stats()["rpc"]["calls"] == 0
    with pytest.raises(SessionClosedError):
        fx.account("acc-1")
    with pytest.raises(ValidationError):
        RemoteFxSocket(nats=nats_url, prefix="has.dots")


@pytest.fixture
async def remote_account(nats_url: str) -> AsyncIterator[tuple[RemoteFxSocket, str, Simulator]]:
    async with Simulator(sim_config()) as sim, make_streaming_client(sim, stream=FAST_STREAM) as fx:
        account = sim.link_account("Sim-Demo", 840001, connected=True).id
        async with (
            bridge_for(fx, nats_url, [account], symbols=["EURUSD"]),
            RemoteFxSocket(nats=nats_url, request_timeout=WAIT) as remote,
        ):
            yield remote, account, sim


async def test_rest_calls_return_the_library_types_and_raise_its_exceptions(
    remote_account: tuple[RemoteFxSocket, str, Simulator],
) -> None:
    remote, account_id, _sim = remote_account
    account = remote.account(account_id)
    quote = await account.quote("EURUSD")
    assert isinstance(quote, Quote)
    assert quote.symbol == "EURUSD"
    assert isinstance(await account.summary(), AccountSummary)
    bars = await account.candles("EURUSD", "M1", limit=5)
    assert len(bars) == 5
    assert all(isinstance(bar, Candle) for bar in bars)
    assert isinstance(await account.info(), Account)
    assert account_id in [a.id for a in await remote.accounts.list()]

    with pytest.raises(NotFoundError) as caught:
        await account.quote("NOPE")
    assert caught.value.status == 404
    assert caught.value.code
    assert caught.value.__context__ is None

    first = await account.orders.create("EURUSD", "BUY", 0.1, idempotency_key="one-key")
    again = await account.orders.create("EURUSD", "BUY", 0.1, idempotency_key="one-key")
    assert isinstance(first, OrderReply)
    assert again.id == first.id
    assert [p.id for p in await account.positions()] == [first.id]
    price = (await account.quote("EURUSD")).bid
    stopped = await account.orders.modify(first.id, sl=round(price - 0.01, 5))
    assert stopped.sl == round(price - 0.01, 5)
    removed = await account.orders.modify(first.id, sl=REMOVE)
    assert not removed.sl
    closed = await account.orders.close(first.id)
    assert closed.id == first.id
    page = await account.history_page(0, 10)
    assert isinstance(page, HistoryPage)
    assert first.id in [t.id for t in page.trades]
