"""Every error status, and every transport failure, maps to our exception tree.

Each failure is caught as ``FxSocketError`` (so an aiohttp or msgspec
exception would fail the test by escaping) and then checked for its exact
class, status and code, and that its class is ours.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from aiohttp import web

import fxsocket_async
from fxsocket_async import (
    AccountClient,
    AlreadyLinkedError,
    AsyncFxSocket,
    AuthenticationError,
    BadRequestError,
    BrokerRejectedError,
    ConnectionFailedError,
    FxSocketError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    PlanLimitError,
    ProtocolError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TerminalNotReadyError,
    Timeouts,
    UnexpectedStatusError,
    ValidationError,
)
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account
from tests.helpers.dialects import is_terminal, missing_order_id, refusal_status
from tests.helpers.routes import route
from tests.helpers.sim import READ_KEY, TRADE_KEY, WAIT, link, make_client, next_login

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(max_attempts=1)
PIP = 0.0001


@contextlib.contextmanager
def raises_ours(
    cls: type[FxSocketError], *, status: int | None = None, code: str | None = None
) -> Iterator[pytest.ExceptionInfo[FxSocketError]]:
    """The block raises exactly ``cls`` (one of ours), with this status (default None) and code."""
    with pytest.raises(FxSocketError) as info:
        yield info
    error = info.value
    assert type(error) is cls, repr(error)
    assert type(error).__module__.startswith("fxsocket_async"), type(error).__module__
    assert isinstance(error, fxsocket_async.FxSocketError)
    assert error.status == status, repr(error)
    if code is not None:
        assert error.code == code, repr(error)
    assert error.message
    assert str(error)
    # Nothing from below the seam is chained into what the caller sees.
    assert error.__cause__ is None, repr(error.__cause__)
    shown_context = None if error.__suppress_context__ else error.__context__
    assert shown_context is None, repr(shown_context)


def trading(fx: AsyncFxSocket, account: Account) -> AccountClient:
    return fx.account(account.id)


def count(sim: Simulator, operation: str) -> int:
    return sim.stats.routes.get(route(operation), 0)


ORDERS = "create"  # an operation: count() names its route in the test's dialect
LIST = "GET /v1/accounts"
SUMMARY = "summary"
RECORD = "GET /v1/accounts/{account_id}"


# ---------------------------------------------------------------------- 400


async def test_400_server_validation_error(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    ask = sim.price("EURUSD").ask
    wrong_side = round(ask + 20 * PIP, 5)  # a BUY_LIMIT must be below the ask
    refused = raises_ours(BadRequestError, status=refusal_status(), code="invalid_price")
    with anyio.fail_after(WAIT), refused:
        await trading(fx, connected_account).orders.create(
            "EURUSD", "BUY_LIMIT", 0.1, price=wrong_side
        )
    assert count(sim, ORDERS) == 1  # refused at once, never retried


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"volume": 0.001}, "invalid_volume"),  # below the minimum lot
        ({"volume": 0.015}, "invalid_volume"),  # not a multiple of the lot step
        ({"volume": 1000.0}, "invalid_volume"),
        ({"sl": 5.0}, "invalid_stops"),  # a BUY's SL above the price
        ({"symbol": "NOPE"}, "invalid_symbol"),
    ],
)
async def test_400_other_server_refusals(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator, kwargs: Any, code: str
) -> None:
    args = {"symbol": "EURUSD", "type": "BUY", "volume": 0.1, **kwargs}
    # A terminal account's symbol and volume limits are known (symbol_info): such an
    # order is refused before it is sent. Stops are the terminal's to judge.
    local = is_terminal() and "sl" not in kwargs
    expected = (
        raises_ours(ValidationError, code=code)
        if local
        else raises_ours(BadRequestError, status=refusal_status(), code=code)
    )
    with anyio.fail_after(WAIT), expected:
        await trading(fx, connected_account).orders.create(**args)
    assert count(sim, ORDERS) == (0 if local else 1)


async def test_400_broker_rejected(fx: AsyncFxSocket, sim: Simulator) -> None:
    with (
        anyio.fail_after(WAIT),
        raises_ours(BrokerRejectedError, status=400, code="broker_rejected"),
    ):
        await link(fx, password="invalid")
    assert count(sim, "POST /v1/accounts") == 1
    assert sim.accounts() == []


# ---------------------------------------------------------------------- 401


SECRET_KEY = "sk-live-TOPSECRET-93c1f0"


async def test_401_unknown_key_does_not_leak_it(sim: Simulator) -> None:
    async with make_client(sim, key=SECRET_KEY) as fx:
        errors: list[FxSocketError] = []
        with anyio.fail_after(WAIT):
            with raises_ours(AuthenticationError, status=401, code="unauthorized") as info:
                await fx.accounts.list()  # X-API-Key
            errors.append(info.value)
            with raises_ours(AuthenticationError, status=401, code="unauthorized") as info:
                await fx.account("some-account").summary()  # Authorization: Bearer
            errors.append(info.value)
            with raises_ours(AuthenticationError, status=401) as info:
                await fx.account().quote("EURUSD")
            errors.append(info.value)
        shown = [repr(fx), repr(fx.accounts), repr(fx.account("a"))]
        for error in errors:
            shown += [str(error), repr(error), error.message, *map(str, error.args)]
        for text in shown:
            assert SECRET_KEY not in text
            assert "TOPSECRET" not in text
    # Authentication errors are never retried. The bare-route call lists the
    # key's accounts first (to pace in its account's bucket), which is refused;
    # a terminal session reads the account's record before its first call.
    assert count(sim, LIST) == 2
    assert count(sim, RECORD if is_terminal() else SUMMARY) == 1


# ---------------------------------------------------------------------- 402


async def test_402_plan_limit(fx: AsyncFxSocket, sim: Simulator) -> None:
    with anyio.fail_after(WAIT):
        for _ in range(sim.config.plan_limit):
            await link(fx)
        with raises_ours(PlanLimitError, status=402, code="plan_limit"):
            await link(fx)
    assert len(sim.accounts()) == sim.config.plan_limit


# ---------------------------------------------------------------------- 403


async def test_403_read_key_cannot_trade(connected_account: Account, sim: Simulator) -> None:
    async with make_client(sim, key=READ_KEY) as reader:
        with anyio.fail_after(WAIT):
            # Reading is allowed...
            assert [a.id for a in await reader.accounts.list()] == [connected_account.id]
            assert (await trading(reader, connected_account).summary()).balance > 0
            # ...trading and management are not.
            with raises_ours(PermissionDeniedError, status=403, code="forbidden"):
                await trading(reader, connected_account).orders.create("EURUSD", "BUY", 0.1)
            with raises_ours(PermissionDeniedError, status=403, code="forbidden"):
                await reader.accounts.unlink(connected_account.id)
            with raises_ours(PermissionDeniedError, status=403):
                await link(reader)
    assert count(sim, ORDERS) == 1  # not retried


async def test_403_trade_key_cannot_link(connected_account: Account, sim: Simulator) -> None:
    async with make_client(sim, key=TRADE_KEY) as trader:
        with anyio.fail_after(WAIT):
            order = await trading(trader, connected_account).orders.create("EURUSD", "BUY", 0.1)
            assert order.status == "filled"
            with raises_ours(PermissionDeniedError, status=403, code="forbidden"):
                await link(trader)
    assert count(sim, "POST /v1/accounts") == 2  # the fixture's link, then the refused one


# ---------------------------------------------------------------------- 404


async def test_404_not_found(fx: AsyncFxSocket, connected_account: Account) -> None:
    account = trading(fx, connected_account)
    # A terminal says "no such ticket" with a 200 and retcode 10013, and "no such
    # symbol" with its own code; the class, and the order's code, are the same.
    order_status = refusal_status() if is_terminal() else 404
    symbol_code = "symbol_not_found" if is_terminal() else "invalid_symbol"
    with anyio.fail_after(WAIT):
        with raises_ours(NotFoundError, status=404, code="not_found"):
            await fx.accounts.get("no-such-account")
        with raises_ours(NotFoundError, status=404, code="not_found"):
            await fx.accounts.unlink("no-such-account")
        with raises_ours(NotFoundError, status=404, code="not_found"):
            await fx.account("no-such-account").summary()
        with raises_ours(NotFoundError, status=order_status, code="order_not_found"):
            await account.orders.close(missing_order_id())
        with raises_ours(NotFoundError, status=order_status, code="order_not_found"):
            await account.orders.modify(missing_order_id(), sl=1.0)
        with raises_ours(NotFoundError, status=404, code=symbol_code):
            await account.quote("NOPE")
        with raises_ours(NotFoundError, status=404):
            await account.candles("NOPE", "M1", limit=5)


async def test_404_bare_form_without_any_account(fx: AsyncFxSocket) -> None:
    with anyio.fail_after(WAIT), raises_ours(NotFoundError, status=404, code="not_found"):
        await fx.account().summary()


async def test_404_wait_connected_for_an_unknown_account(fx: AsyncFxSocket) -> None:
    with anyio.fail_after(WAIT), raises_ours(NotFoundError, status=404):
        await fx.accounts.wait_connected("no-such-account", timeout=5)


# ---------------------------------------------------------------------- 409


async def test_409_already_linked(fx: AsyncFxSocket, sim: Simulator) -> None:
    login = next_login()
    with anyio.fail_after(WAIT):
        await link(fx, login=login)
        with raises_ours(AlreadyLinkedError, status=409, code="already_linked"):
            await link(fx, login=login)
    assert len(sim.accounts()) == 1


@pytest.mark.dialects("reference")  # the terminal's route takes no idempotency key
async def test_409_idempotency_conflict(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    orders = trading(fx, connected_account).orders
    with anyio.fail_after(WAIT):
        first = await orders.create("EURUSD", "BUY", 0.1, idempotency_key="my-key-1")
        replay = await orders.create("EURUSD", "BUY", 0.1, idempotency_key="my-key-1")
        assert replay.id == first.id  # same key, same body: the stored reply
        with raises_ours(IdempotencyConflictError, status=409, code="idempotency_conflict"):
            await orders.create("EURUSD", "SELL", 0.1, idempotency_key="my-key-1")
        positions = await trading(fx, connected_account).positions()
    assert [p.id for p in positions] == [first.id]
    assert count(sim, ORDERS) == 3


# ---------------------------------------------------------------------- 429


async def test_429_rate_limited_when_retries_are_off(sim: Simulator) -> None:
    async with make_client(sim, retry=NO_RETRY) as fx:
        sim.faults.fail_next(1, status=429, error="rate_limited", retry_after=1)
        with (
            anyio.fail_after(WAIT),
            raises_ours(RateLimitedError, status=429, code="rate_limited") as info,
        ):
            await fx.accounts.list()
    assert isinstance(info.value, RateLimitedError)
    assert info.value.retry_after == 1
    assert count(sim, LIST) == 1


async def test_429_without_retry_after(sim: Simulator) -> None:
    async with make_client(sim, retry=NO_RETRY) as fx:
        sim.faults.fail_next(1, status=429, error="rate_limited")
        with anyio.fail_after(WAIT), raises_ours(RateLimitedError, status=429) as info:
            await fx.accounts.list()
    assert isinstance(info.value, RateLimitedError)
    assert info.value.retry_after is None


# ---------------------------------------------------------------------- 5xx


@pytest.mark.parametrize(
    ("status", "code"), [(500, "internal_error"), (502, "bad_gateway"), (504, "gateway_timeout")]
)
async def test_5xx_server_error_when_retries_are_exhausted(
    fx: AsyncFxSocket, sim: Simulator, status: int, code: str
) -> None:
    attempts = fx.retry.max_attempts
    sim.faults.fail_next(attempts, status=status, error=code)
    with anyio.fail_after(WAIT), raises_ours(ServerError, status=status, code=code):
        await fx.accounts.list()
    assert count(sim, LIST) == attempts
    assert fx.stats()["retries"] == attempts - 1
    # The faults are used up: the next call goes through.
    with anyio.fail_after(WAIT):
        assert await fx.accounts.list() == []


async def test_500_on_link_is_not_retried(fx: AsyncFxSocket, sim: Simulator) -> None:
    """A link may have happened before the failure: sending it again could link twice."""
    sim.faults.fail_next(1, status=500)
    with anyio.fail_after(WAIT), raises_ours(ServerError, status=500, code="internal_error"):
        await link(fx)
    assert count(sim, "POST /v1/accounts") == 1


async def test_503_terminal_not_ready(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    sim.set_account_status(connected_account.id, "disconnected")
    with anyio.fail_after(WAIT):
        with raises_ours(TerminalNotReadyError, status=503, code="terminal_not_ready"):
            await trading(fx, connected_account).summary()
        with raises_ours(TerminalNotReadyError, status=503, code="terminal_not_ready"):
            await trading(fx, connected_account).orders.create("EURUSD", "BUY", 0.1)
    assert count(sim, SUMMARY) == 1
    # A terminal account's order first reads the symbol's spec, which meets the 503.
    assert count(sim, ORDERS) == (0 if is_terminal() else 1)


async def test_503_with_another_code_is_a_server_error(sim: Simulator) -> None:
    async with make_client(sim, retry=NO_RETRY) as fx:
        sim.faults.fail_next(1, status=503, error="maintenance", message="back soon")
        with (
            anyio.fail_after(WAIT),
            raises_ours(ServerError, status=503, code="maintenance") as info,
        ):
            await fx.accounts.list()
    assert not isinstance(info.value, TerminalNotReadyError)
    assert info.value.message == "back soon"


async def test_unexpected_status(sim: Simulator) -> None:
    async with make_client(sim, retry=NO_RETRY) as fx:
        sim.faults.fail_next(1, status=418, error="teapot")
        with anyio.fail_after(WAIT), raises_ours(UnexpectedStatusError, status=418, code="teapot"):
            await fx.accounts.list()


# ----------------------------------------------------------------- transport


def closed_port() -> int:
    """A port on 127.0.0.1 that was just free and has nobody listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("retry", [NO_RETRY, RetryPolicy(max_attempts=3, initial_delay=0.01)])
async def test_connection_refused(anyio_backend: str, retry: RetryPolicy) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with AsyncFxSocket("some-key", base_url=url, retry=retry, dialect="reference") as fx:
        with anyio.fail_after(WAIT), raises_ours(ConnectionFailedError, code="connection_failed"):
            await fx.accounts.list()
        with anyio.fail_after(WAIT), raises_ours(ConnectionFailedError):
            await fx.account("a").quote("EURUSD")
        assert fx.stats()["requests"] == 2 * retry.max_attempts


async def test_timeout(sim: Simulator) -> None:
    sim.faults.latency = 1.0
    async with make_client(sim, timeouts=Timeouts(request=0.2), retry=NO_RETRY) as fx:
        with (
            anyio.fail_after(WAIT),
            raises_ours(fxsocket_async.TimeoutError, code="timeout") as info,
        ):
            await fx.accounts.list()
    assert isinstance(info.value, builtins.TimeoutError)
    assert isinstance(info.value, fxsocket_async.TransportError)
    assert info.value.status is None
    sim.faults.latency = 0.0


# ------------------------------------------------- replies we cannot understand


async def _garbage(request: web.Request) -> web.StreamResponse:
    kind = request.match_info.get("kind", "")
    replies: dict[str, web.StreamResponse] = {
        "": web.Response(body=b"this is not JSON {", content_type="application/json"),
        "mismatch": web.Response(body=b'{"hello": "world"}', content_type="application/json"),
        "list": web.Response(body=b"[1, 2, 3]", content_type="application/json"),
        "empty": web.Response(body=b"", content_type="application/json"),
        "html500": web.Response(body=b"<html>oops</html>", status=500, content_type="text/html"),
        "html400": web.Response(body=b"<html>bad</html>", status=400, content_type="text/html"),
        "plain401": web.Response(body=b"go away", status=401),
        # Per-account routes: /v1/accounts/{id}/account, .../orders, .../candles/EURUSD.
        "account": web.Response(
            body=b'{"balance": "lots", "equity": 1, "margin": 0, "free_margin": 1}',
            content_type="application/json",
        ),
        "orders": web.Response(body=b'{"id": "x"}', content_type="application/json"),
        "EURUSD": web.Response(
            body=b'{"symbol": "EURUSD", "timeframe": "M1", "candles": [{"time": "yesterday",'
            b' "open": 1, "high": 1, "low": 1, "close": 1}]}',
            content_type="application/json",
        ),
    }
    return replies[kind]


@contextlib.asynccontextmanager
async def garbage_server() -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1 whose replies break the contract; yields its URL."""
    app = web.Application()
    app.router.add_get("/v1/accounts", _garbage)
    app.router.add_get("/v1/accounts/{kind}", _garbage)
    app.router.add_get("/v1/accounts/{id}/{kind}", _garbage)
    app.router.add_get("/v1/accounts/{id}/candles/{kind}", _garbage)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def garbage_client() -> AsyncIterator[AsyncFxSocket]:
    async with (
        garbage_server() as url,
        AsyncFxSocket("k", base_url=url, retry=NO_RETRY, dialect="reference") as fx,
    ):
        yield fx


async def test_reply_that_is_not_json(anyio_backend: str) -> None:
    async with garbage_client() as fx:
        with anyio.fail_after(WAIT), raises_ours(ProtocolError, status=200, code="protocol_error"):
            await fx.accounts.list()


@pytest.mark.parametrize("kind", ["mismatch", "list", "empty"])
async def test_reply_that_does_not_match(anyio_backend: str, kind: str) -> None:
    async with garbage_client() as fx:
        with anyio.fail_after(WAIT), raises_ours(ProtocolError, status=200, code="protocol_error"):
            await fx.accounts.get(kind)


async def test_reply_with_mistyped_fields(anyio_backend: str) -> None:
    async with garbage_client() as fx:
        with anyio.fail_after(WAIT), raises_ours(ProtocolError, status=200) as info:
            await fx.account("a").orders.pending()  # a list expected, an object sent
        assert "OrderReply" in info.value.message
        with anyio.fail_after(WAIT), raises_ours(ProtocolError, status=200):
            await fx.account("a").candles("EURUSD", "M1", limit=5)
        with anyio.fail_after(WAIT), raises_ours(ProtocolError, status=200):
            await fx.account("a").summary()


@pytest.mark.parametrize(
    ("kind", "cls", "status"),
    [
        ("html500", ServerError, 500),
        ("html400", BadRequestError, 400),
        ("plain401", AuthenticationError, 401),
    ],
)
async def test_error_reply_without_an_error_body(
    anyio_backend: str, kind: str, cls: type[FxSocketError], status: int
) -> None:
    async with garbage_client() as fx:
        with anyio.fail_after(WAIT), raises_ours(cls, status=status, code=f"http_{status}"):
            await fx.accounts.get(kind)


@contextlib.asynccontextmanager
async def raw_server(payload: bytes) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 that answers any request with ``payload`` and hangs up."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(payload)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # hangs up without a reply
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[{",  # hangs up mid-body
    ],
)
async def test_connection_broken_mid_request(anyio_backend: str, payload: bytes) -> None:
    async with (
        raw_server(payload) as url,
        AsyncFxSocket("k", base_url=url, retry=NO_RETRY, dialect="reference") as fx,
    ):
        with anyio.fail_after(WAIT), raises_ours(ConnectionFailedError):
            await fx.accounts.list()


async def test_reply_that_is_not_http(anyio_backend: str) -> None:
    async with (
        raw_server(b"garbage\r\n\r\n") as url,
        AsyncFxSocket("k", base_url=url, retry=NO_RETRY, dialect="reference") as fx,
    ):
        with anyio.fail_after(WAIT), pytest.raises(ProtocolError) as info:
            await fx.accounts.list()
    assert type(info.value).__module__.startswith("fxsocket_async")


async def test_reply_that_is_not_http_has_no_status(anyio_backend: str) -> None:
    async with (
        raw_server(b"garbage\r\n\r\n") as url,
        AsyncFxSocket("k", base_url=url, retry=NO_RETRY, dialect="reference") as fx,
    ):
        with anyio.fail_after(WAIT), raises_ours(ProtocolError, status=None):
            await fx.accounts.list()
