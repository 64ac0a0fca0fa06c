"""Nothing escapes as a foreign exception, nothing hangs, bad input is refused with a hint.

Issue 9's cases, each against a real server over 127.0.0.1: the simulator, or
a misbehaving server (``tests/helpers/rogue.py``) for the replies the
simulator never gives.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import anyio
import anyio.abc
import pytest

from fxsocket_async import (
    AsyncFxSocket,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    FxSocketError,
    NotFoundError,
    ProtocolError,
    RetryPolicy,
    ServerError,
    Timeouts,
    ValidationError,
)
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account
from tests.helpers.rogue import Canned, nested, rogue_server
from tests.helpers.sim import FULL_KEY, WAIT, link, make_client
from tests.stream.conftest import FAST_STREAM

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(max_attempts=1)
ACCOUNT = "acc_1"
ACCOUNT_JSON = b'{"id":"acc_1","status":"connected","server":"S","login":1}'


def chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception behind it (``__cause__`` and ``__context__``)."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]


def foreign(error: BaseException) -> list[BaseException]:
    """The exceptions in ``error``'s chain that are not ours."""
    return [e for e in chain(error) if not isinstance(e, FxSocketError)]


# ------------------------------------------------ replies the contract forbids


@pytest.mark.parametrize("status", [204, 200])
async def test_an_empty_reply_where_a_body_is_due_is_a_protocol_error(status: int) -> None:
    async with rogue_server() as rogue:
        empty = Canned(status, b"")
        for route in (
            f"GET /v1/accounts/{ACCOUNT}/quotes/EURUSD",
            f"POST /v1/accounts/{ACCOUNT}/orders",
            "GET /v1/accounts",
        ):
            rogue.replies[route] = empty
        async with AsyncFxSocket(
            "k", base_url=rogue.base_url, retry=NO_RETRY, dialect="reference"
        ) as fx:
            trading = fx.account(ACCOUNT)
            for call in (
                lambda: trading.quote("EURUSD"),
                lambda: trading.orders.create("EURUSD", "BUY", 0.1),
                fx.accounts.list,
            ):
                with anyio.fail_after(WAIT), pytest.raises(ProtocolError) as caught:
                    await call()
                assert caught.value.status == status
                assert foreign(caught.value) == []


async def test_a_reply_nested_too_deeply_is_a_protocol_error() -> None:
    async with rogue_server() as rogue:
        rogue.replies[f"GET /v1/accounts/{ACCOUNT}/quotes/EURUSD"] = Canned(200, nested(1200))
        rogue.replies[f"GET /v1/accounts/{ACCOUNT}/positions"] = Canned(500, nested(1200))
        async with AsyncFxSocket(
            "k", base_url=rogue.base_url, retry=NO_RETRY, dialect="reference"
        ) as fx:
            with anyio.fail_after(WAIT), pytest.raises(ProtocolError) as caught:
                await fx.account(ACCOUNT).quote("EURUSD")
            assert "nested too deeply" in caught.value.message
            assert foreign(caught.value) == []
            # An error body nested too deeply still gives its status's class.
            with anyio.fail_after(WAIT), pytest.raises(ServerError) as server:
                await fx.account(ACCOUNT).positions()
            assert server.value.status == 500
            assert foreign(server.value) == []


async def test_the_watcher_survives_a_204_and_hands_it_to_its_waiters() -> None:
    async with rogue_server() as rogue:
        rogue.replies[f"GET /v1/accounts/{ACCOUNT}"] = Canned(200, ACCOUNT_JSON)
        rogue.replies["GET /v1/accounts"] = Canned(204)
        async with AsyncFxSocket(
            "k", base_url=rogue.base_url, retry=NO_RETRY, dialect="reference"
        ) as fx:
            with anyio.fail_after(WAIT), pytest.raises(ProtocolError) as caught:
                await fx.accounts.wait_connected(ACCOUNT, timeout=5)
            assert caught.value.status == 204
            # The session and its watcher live on: once the server answers, waits succeed.
            rogue.replies["GET /v1/accounts"] = Canned(200, b"[" + ACCOUNT_JSON + b"]")
            with anyio.fail_after(WAIT):
                account = await fx.accounts.wait_connected(ACCOUNT, timeout=5)
            assert account.status == "connected"


async def test_candles_over_many_chunks_raise_the_first_of_our_errors(
    sim: Simulator, connected_account: Account
) -> None:
    async with make_client(sim, retry=NO_RETRY) as fx:
        sim.faults.fail_next(2, status=502, error="bad_gateway", message="injected")
        start = datetime(2026, 1, 1)
        with anyio.fail_after(WAIT), pytest.raises(ServerError) as caught:
            # Four chunks of 1,000 M1 bars, fetched concurrently: two of them fail.
            await fx.account(connected_account.id).candles(
                "EURUSD", "M1", start=start, end=start + timedelta(minutes=3999)
            )
        sim.faults.clear()
    assert not isinstance(caught.value, BaseExceptionGroup)
    assert caught.value.status == 502
    assert foreign(caught.value) == []


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (lambda fx: fx.quotes("EURUSD", account="a", mode="bogus"), "'conflate'"),
        (lambda fx: fx.quotes("EURUSD", account="a", buffer=-1), "at least 1"),
        (lambda fx: fx.quotes("EURUSD", account="a", buffer=0), "at least 1"),
        (lambda fx: fx.quotes("EURUSD", account="a", buffer=2.5), "whole number"),
        (lambda fx: fx.quotes(["EURUSD", "GBPUSD"], account="a"), "separate arguments"),
        (lambda fx: fx.quotes(account="a"), "at least one symbol"),
        (lambda fx: fx.quotes("EURUSD", account=""), "account"),
        (lambda fx: fx.events(account="a", buffer=0), "at least 1"),
        (lambda fx: fx.account("a").history(type="bogus"), "BUY"),
    ],
)
async def test_bad_arguments_are_refused_with_what_to_do(
    sim: Simulator, fx: AsyncFxSocket, call: object, hint: str
) -> None:
    before = sim.stats.requests
    with pytest.raises(ValidationError) as caught:
        call(fx)  # type: ignore[operator]
    assert hint in caught.value.message
    assert isinstance(caught.value, ValueError)
    assert caught.value.status is None
    assert sim.stats.requests == before


# ------------------------------------------------------------ no secret chained


async def test_a_refused_key_carries_no_secret_in_its_chain(sim: Simulator) -> None:
    secret = "sk_live_not-in-any-chain-4410"
    async with make_client(sim, key=secret) as fx:
        with anyio.fail_after(WAIT), pytest.raises(AuthenticationError) as stream:
            await fx.connect_stream()
        with anyio.fail_after(WAIT), pytest.raises(AuthenticationError) as rest:
            await fx.accounts.list()
    for error in (stream.value, rest.value):
        assert foreign(error) == []
        for link_ in chain(error):
            assert secret not in repr(link_)
            assert secret not in str(vars(link_))


async def test_a_broken_connection_carries_no_secret_in_its_chain() -> None:
    secret = "sk_live_dead-port-8127"
    async with rogue_server() as rogue:
        url = rogue.base_url
    # The server is gone: its port refuses connections.
    async with AsyncFxSocket(secret, base_url=url, retry=NO_RETRY, dialect="reference") as fx:
        with anyio.fail_after(WAIT), pytest.raises(ConnectionFailedError) as caught:
            await fx.accounts.list()
    assert foreign(caught.value) == []
    assert secret not in repr(caught.value)


# ------------------------------------------------------------ nothing hangs


@pytest.mark.dialects("reference")  # ws_url is the reference's socket; a terminal's: stream/
@pytest.mark.parametrize("path", ["/v1/strem", "", "/"])
async def test_a_wrong_stream_url_is_a_configuration_error_at_once(
    sim: Simulator, connected_account: Account, path: str
) -> None:
    url = sim.ws_url.removesuffix("/v1/stream") + path
    async with make_client(sim, ws_url=url) as fx:
        with anyio.fail_after(3), pytest.raises(ConfigurationError) as caught:
            async with fx.quotes("EURUSD", account=connected_account.id):
                pass
        assert url.rstrip("/") in caught.value.message
        assert "404" in caught.value.message
        assert fx.connection().state.state == "failed"
        # It is not retried: the next one learns it at once, without a new handshake.
        handshakes = sim.stats.ws_handshakes
        with anyio.fail_after(3), pytest.raises(ConfigurationError):
            await fx.connect_stream()
        assert sim.stats.ws_handshakes == handshakes


@pytest.mark.dialects("reference")
async def test_a_dead_stream_port_fails_the_first_subscription_within_the_connect_timeout(
    sim: Simulator, connected_account: Account
) -> None:
    async with rogue_server() as rogue:
        dead = rogue.base_url.replace("http", "ws") + "/v1/stream"
    async with make_client(sim, ws_url=dead) as fx:
        with anyio.fail_after(3), pytest.raises(ConnectionFailedError) as caught:
            async with fx.quotes("EURUSD", account=connected_account.id):
                pass
        assert dead in caught.value.message
        assert isinstance(fx.connection().state.error, ConnectionFailedError)
        # Not fatal: the next subscription tries again (and fails again, the same way).
        with anyio.fail_after(3), pytest.raises(ConnectionFailedError):
            await fx.connect_stream()


async def test_a_silent_handshake_times_out_within_the_connect_timeout(
    sim: Simulator, connected_account: Account
) -> None:
    # A TCP server that accepts and never answers the upgrade.
    async def never_answer(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with anyio.move_on_after(WAIT):
                await stream.receive()
                await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, never_answer)
        async with make_client(
            sim, ws_url=f"ws://127.0.0.1:{port}/v1/stream", timeouts=Timeouts(connect=0.2)
        ) as fx:
            with anyio.fail_after(3), pytest.raises(builtins.TimeoutError) as caught:
                await fx.connect_stream()
        tg.cancel_scope.cancel()
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert foreign(caught.value) == []


async def test_reconnects_after_a_first_success_keep_retrying_and_log_warnings(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "fxsocket_async")
    seen = []
    async with make_client(sim, key=FULL_KEY, stream=FAST_STREAM) as fx:
        account = await link(fx, connected=True)
        with anyio.fail_after(WAIT):
            async with (
                fx.quotes("EURUSD", account=account.id),
                fx.connection(account.id).watch() as states,
            ):
                sim.faults.refuse_handshakes(status=503)
                sim.faults.drop_connections()
                async for state in states:  # bounded by fail_after
                    seen.append(state)
                    if state.state == "reconnecting" and state.attempt >= 3:
                        break
                sim.faults.accept_handshakes()
                await fx.connection(account.id).wait_for("live")
    reconnecting = [s for s in seen if s.state == "reconnecting"]
    assert [s.attempt for s in reconnecting] == [1, 2, 3]
    assert reconnecting[0].reason  # what ended the connection
    assert "503" in reconnecting[-1].reason  # what the last attempt met
    assert all(s.next_attempt_at is not None for s in reconnecting)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("lost" in w for w in warnings), warnings
    assert any("reconnect" in w and "503" in w for w in warnings), warnings


# ----------------------------------------------- truth after the world changes


async def test_a_close_whose_reply_was_lost_and_resent_by_aiohttp_reports_the_close(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account
) -> None:
    trading = fx.account(connected_account.id)
    order = await trading.orders.create("EURUSD", "BUY", 0.1)
    # The server closes it, then drops the connection unanswered; aiohttp itself sends
    # the DELETE again (our retry list stays empty) and that one meets 404.
    sim.faults.drop_after_next(1)
    with anyio.fail_after(WAIT):
        closed = await trading.orders.close(order.id)
    assert closed.id == order.id
    assert closed.status == "closed"
    assert closed.close_price is not None
    assert fx.stats()["retries"] == 0
    ledger = [type(e).__name__ for e in sim.ledger(connected_account.id)]
    assert ledger.count("OrderClosed") == 1


async def test_an_unlink_whose_reply_was_lost_and_resent_by_aiohttp_is_done(
    sim: Simulator, fx: AsyncFxSocket
) -> None:
    account = await link(fx)
    sim.faults.drop_after_next(1)
    with anyio.fail_after(WAIT):
        await fx.accounts.unlink(account.id)
    assert [a.id for a in sim.accounts()] == []
    # An account this session never saw is still not found.
    with anyio.fail_after(WAIT), pytest.raises(NotFoundError):
        await fx.accounts.unlink("acc_never_seen")
