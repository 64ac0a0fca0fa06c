"""Retries through the public API: injected 5xx and 429 succeed, refusals are raised at once.

``sim.faults.fail_next`` answers the next REST requests with an error. It hits
whatever request comes next, so every test injects only while the account
watcher is idle (no account ``connecting``) and sends the request right away.
"""

from __future__ import annotations

import builtins
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from fxsocket_async import (
    AsyncFxSocket,
    AuthenticationError,
    BadRequestError,
    BrokerRejectedError,
    ConnectionFailedError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TerminalNotReadyError,
    TimeoutError,
    Timeouts,
)
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, OrderCancelled, OrderClosed, OrderModified, OrderOpened
from tests.helpers.dialects import (
    is_terminal,
    missing_order_id,
    refusal_status,
    retried,
    warm_account,
    warm_symbols,
)
from tests.helpers.routes import route
from tests.helpers.sim import READ_KEY, TRADE_KEY, WAIT, link, make_client, sim_config

pytestmark = pytest.mark.anyio

#: Fast retries; Retry-After (whole seconds on the wire) is capped so tests stay fast.
RETRY = RetryPolicy(max_attempts=4, initial_delay=0.01, max_delay=0.05, retry_after_cap=0.05)

LIST = "GET /v1/accounts"
LINK = "POST /v1/accounts"
UNLINK = "DELETE /v1/accounts/{account_id}"
QUOTE = "quote"  # an operation: see tests.helpers.routes.route
SUMMARY = "summary"  # an operation: see tests.helpers.routes.route
POSITIONS = "positions"  # an operation: see tests.helpers.routes.route
PENDING = "pending"  # an operation: see tests.helpers.routes.route
HISTORY = "history"  # an operation: see tests.helpers.routes.route
CANDLES = "candles"  # an operation: see tests.helpers.routes.route
CREATE = "create"  # an operation: see tests.helpers.routes.route
MODIFY = "modify"  # an operation: see tests.helpers.routes.route
CLOSE = "close"  # an operation: see tests.helpers.routes.route

BID, ASK = 1.1000, 1.1002


@pytest.fixture
async def fx(sim: Simulator) -> AsyncIterator[AsyncFxSocket]:
    """The suite's client with this module's retry policy (Retry-After capped)."""
    async with make_client(sim, retry=RETRY) as client:
        yield client


@pytest.fixture
def prices(sim: Simulator) -> None:
    sim.set_price("EURUSD", BID, ASK)


class Counts:
    """Server-side request counts per route, relative to when it was made."""

    def __init__(self, sim: Simulator, fx: AsyncFxSocket) -> None:
        self._sim, self._fx = sim, fx
        self._routes = dict(sim.stats.routes)
        self._stats = fx.stats()

    def __getitem__(self, operation: str) -> int:
        name = route(operation)
        return self._sim.stats.routes[name] - self._routes.get(name, 0)

    @property
    def retries(self) -> int:
        return self._fx.stats()["retries"] - self._stats["retries"]

    @property
    def sent(self) -> int:
        return self._fx.stats()["requests"] - self._stats["requests"]


def record_idempotency_keys(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Every Idempotency-Key the simulator's engine was handed for an order POST."""
    keys: list[str | None] = []
    original = sim.engine.create_order

    def create_order(account: Any, request: Any, idempotency_key: str | None = None) -> Any:
        keys.append(idempotency_key)
        return original(account, request, idempotency_key)

    monkeypatch.setattr(sim.engine, "create_order", create_order)
    return keys


def of_type(sim: Simulator, account_id: str, kind: type) -> list[Any]:
    return [event for event in sim.ledger(account_id) if isinstance(event, kind)]


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ----------------------------------------------------------- idempotent reads

GETS: dict[str, tuple[str, Callable[[AsyncFxSocket, str], Any]]] = {
    "quote": (QUOTE, lambda fx, a: fx.account(a).quote("EURUSD")),
    "summary": (SUMMARY, lambda fx, a: fx.account(a).summary()),
    "positions": (POSITIONS, lambda fx, a: fx.account(a).positions()),
    "pending": (PENDING, lambda fx, a: fx.account(a).orders.pending()),
    "candles": (CANDLES, lambda fx, a: fx.account(a).candles("EURUSD", "M1", limit=10)),
    "accounts.get": ("GET /v1/accounts/{account_id}", lambda fx, a: fx.accounts.get(a)),
    "accounts.list": (LIST, lambda fx, a: fx.accounts.list()),
}

FAULTS = {
    "500": {"status": 500},
    "502": {"status": 502, "error": "bad_gateway"},
    "503": {"status": 503, "error": "unavailable"},
    "429": {"status": 429, "error": "rate_limited", "retry_after": 1},
    "429-no-retry-after": {"status": 429, "error": "rate_limited"},
    "500-after": {"status": 500, "after": True},
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("call", GETS.keys())
async def test_get_succeeds_through_injected_failures(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, call: str, fault: dict[str, Any]
) -> None:
    route, send = GETS[call]
    baseline = await send(fx, connected_account.id)
    counts = Counts(sim, fx)
    sim.faults.fail_next(2, **fault)
    if not retried(fault) and not route.startswith("GET /v1/accounts"):
        with anyio.fail_after(WAIT), pytest.raises(TerminalNotReadyError):
            await send(fx, connected_account.id)
        assert counts[route] == 1
        return
    with anyio.fail_after(WAIT):
        result = await send(fx, connected_account.id)
    assert type(result) is type(baseline)
    assert counts[route] == 3
    assert counts.retries == 2
    assert counts.sent == 3


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_history_succeeds_through_injected_failures(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None, fault: Any
) -> None:
    trading = fx.account(connected_account.id)
    order = await trading.orders.create("EURUSD", "BUY", 0.1)
    await trading.orders.close(order.id)
    counts = Counts(sim, fx)
    sim.faults.fail_next(2, **fault)
    if not retried(fault):
        with anyio.fail_after(WAIT), pytest.raises(TerminalNotReadyError):
            [trade async for trade in trading.history()]
        assert counts[HISTORY] == 1
        return
    with anyio.fail_after(WAIT):
        trades = [trade async for trade in trading.history()]
    assert [t.id for t in trades] == [order.id]
    assert counts[HISTORY] == 3
    assert counts.retries == 2


async def test_history_pages_each_retry_independently(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None
) -> None:
    trading = fx.account(connected_account.id)
    ids = []
    for _ in range(3):
        order = await trading.orders.create("EURUSD", "BUY", 0.1)
        await trading.orders.close(order.id)
        ids.append(order.id)
    counts = Counts(sim, fx)
    got = []
    with anyio.fail_after(WAIT):
        async for trade in trading.history(page_size=1):
            got.append(trade.id)
            if len(got) == 1:
                # Hits the prefetch of page 2 (or page 3): retried transparently.
                sim.faults.fail_next(1, status=500)
    assert got == ids
    assert counts[HISTORY] == 4
    assert counts.retries == 1


# ------------------------------------------------------- idempotent writes


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_modify_succeeds_through_injected_failures(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None, fault: Any
) -> None:
    trading = fx.account(connected_account.id)
    order = await trading.orders.create("EURUSD", "BUY", 0.1, sl=1.05, tp=1.15)
    counts = Counts(sim, fx)
    sim.faults.fail_next(2, **fault)
    if not retried(fault):
        with anyio.fail_after(WAIT), pytest.raises(TerminalNotReadyError):
            await trading.orders.modify(order.id, sl=1.06)
        assert counts[MODIFY] == 1
        return
    with anyio.fail_after(WAIT):
        reply = await trading.orders.modify(order.id, sl=1.06)
    assert reply.id == order.id
    assert reply.sl == pytest.approx(1.06)
    assert reply.tp == pytest.approx(1.15)
    assert counts[MODIFY] == 3
    assert counts.retries == 2
    # Absolute values: applying them again changes nothing, so the server moved it once.
    assert len(of_type(sim, connected_account.id, OrderModified)) == 1
    (position,) = await trading.positions()
    assert (position.sl, position.tp) == (pytest.approx(1.06), pytest.approx(1.15))


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_close_succeeds_through_injected_failures(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None, fault: Any
) -> None:
    trading = fx.account(connected_account.id)
    order = await trading.orders.create("EURUSD", "BUY", 0.1)
    sim.set_price("EURUSD", 1.1050, 1.1052)
    counts = Counts(sim, fx)
    sim.faults.fail_next(2, **fault, route=route(CLOSE))
    if not retried(fault):
        with anyio.fail_after(WAIT), pytest.raises(TerminalNotReadyError):
            await trading.orders.close(order.id)
        assert counts[CLOSE] == 1
        return
    with anyio.fail_after(WAIT):
        closed = await trading.orders.close(order.id)
    assert closed.id == order.id
    assert closed.status == "closed"
    assert closed.close_price == pytest.approx(1.1050)
    assert counts[CLOSE] == 3
    assert await trading.positions() == []
    assert len(of_type(sim, connected_account.id, OrderClosed)) == 1


async def test_unlink_retried_after_500_counts_gone_as_done(
    sim: Simulator, fx: AsyncFxSocket
) -> None:
    account = await link(fx, connected=True)
    counts = Counts(sim, fx)
    # The first DELETE unlinks, but the client only sees a 500; the retry gets 404.
    sim.faults.fail_next(1, status=500, after=True)
    with anyio.fail_after(WAIT):
        await fx.accounts.unlink(account.id)
    assert counts[UNLINK] == 2
    assert counts.retries == 1
    assert sim.accounts() == []
    with pytest.raises(NotFoundError):
        await fx.accounts.get(account.id)


async def test_unlink_unknown_account_is_not_found_at_once(
    sim: Simulator, fx: AsyncFxSocket
) -> None:
    counts = Counts(sim, fx)
    with pytest.raises(NotFoundError):
        await fx.accounts.unlink("acc-does-not-exist")
    assert counts[UNLINK] == 1
    assert counts.retries == 0


# ------------------------------------------------------- never retried


async def test_server_validation_error_is_raised_at_once(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None
) -> None:
    trading = fx.account(connected_account.id)
    counts = Counts(sim, fx)
    # Positive and finite, so it passes local checks; the server refuses the side.
    with pytest.raises(BadRequestError) as caught:
        await trading.orders.create("EURUSD", "BUY_LIMIT", 0.1, price=ASK + 0.0100)
    assert caught.value.status == refusal_status()
    assert caught.value.code == "invalid_price"
    assert counts[CREATE] == 1
    assert counts.retries == 0
    assert of_type(sim, connected_account.id, OrderOpened) == []


async def test_server_validation_error_on_modify_is_raised_at_once(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None
) -> None:
    trading = fx.account(connected_account.id)
    order = await trading.orders.create("EURUSD", "BUY", 0.1)
    counts = Counts(sim, fx)
    with pytest.raises(BadRequestError) as caught:
        await trading.orders.modify(order.id, sl=1.2)  # a BUY's SL above the bid
    assert caught.value.code == "invalid_stops"
    assert counts[MODIFY] == 1
    assert counts.retries == 0


async def test_injected_400_is_not_retried(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account
) -> None:
    counts = Counts(sim, fx)
    sim.faults.fail_next(3, status=400, error="invalid_request", message="nope")
    with pytest.raises(BadRequestError, match="nope"):
        await fx.account(connected_account.id).quote("EURUSD")
    sim.faults.clear()
    assert counts[QUOTE] == 1
    assert counts.retries == 0


async def test_wrong_key_401_is_not_retried(sim: Simulator) -> None:
    async with make_client(sim, key="not-a-key", retry=RETRY) as fx:
        counts = Counts(sim, fx)
        with pytest.raises(AuthenticationError) as caught:
            await fx.accounts.list()
        assert caught.value.status == 401
        assert counts[LIST] == 1
        with pytest.raises(AuthenticationError):
            await fx.account("acc-1").quote("EURUSD")
        # The quote itself, or (a terminal account) the read of its record first.
        assert counts.sent == 2
        assert counts.retries == 0


@pytest.mark.parametrize(
    ("status", "error", "exc_type"),
    [(401, "unauthorized", AuthenticationError), (403, "forbidden", PermissionDeniedError)],
)
async def test_injected_auth_errors_are_not_retried(
    sim: Simulator,
    fx: AsyncFxSocket,
    connected_account: Account,
    status: int,
    error: str,
    exc_type: type[Exception],
) -> None:
    trading = fx.account(connected_account.id)
    await warm_symbols(trading, "EURUSD")
    for call, operation in [
        (lambda: trading.summary(), SUMMARY),
        (lambda: trading.orders.create("EURUSD", "BUY", 0.1), CREATE),
        (lambda: fx.accounts.list(), LIST),
    ]:
        counts = Counts(sim, fx)
        sim.faults.fail_next(3, status=status, error=error)
        with pytest.raises(exc_type):
            await call()
        sim.faults.clear()
        assert counts[operation] == 1, operation
        assert counts.retries == 0
    assert of_type(sim, connected_account.id, OrderOpened) == []


async def test_read_key_403_is_not_retried(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account
) -> None:
    async with make_client(sim, key=READ_KEY, retry=RETRY) as reader:
        counts = Counts(sim, reader)
        with pytest.raises(PermissionDeniedError) as caught:
            await reader.account(connected_account.id).orders.create("EURUSD", "BUY", 0.1)
        assert caught.value.status == 403
        assert counts[CREATE] == 1
        with pytest.raises(PermissionDeniedError):
            await reader.accounts.link(server="Sim-Demo", login=424242, password="pw")
        assert counts[LINK] == 1
        assert counts.retries == 0


@pytest.mark.dialects("reference", "terminal")
async def test_terminal_not_ready_is_not_retried(anyio_backend: str, dialect: str) -> None:
    async with (
        Simulator(sim_config(provision_delay=60)) as sim,
        make_client(sim, retry=RETRY) as fx,
    ):
        account = await link(fx)
        counts = Counts(sim, fx)
        with pytest.raises(TerminalNotReadyError) as caught:
            await fx.account(account.id).summary()
        assert caught.value.status == 503
        # The reference's summary route answers 503; the terminal dialect, forced, has
        # no terminal to send to yet: its read of the account's record tells.
        assert counts.sent == 1
        assert counts.retries == 0


async def test_broker_rejected_link_is_not_retried(sim: Simulator, fx: AsyncFxSocket) -> None:
    counts = Counts(sim, fx)
    with pytest.raises(BrokerRejectedError):
        await fx.accounts.link(server="Sim-Demo", login=515151, password="invalid")
    assert counts[LINK] == 1
    assert counts.retries == 0


# ------------------------------------------------------------------- link


async def test_link_is_not_retried_after_500(sim: Simulator, fx: AsyncFxSocket) -> None:
    counts = Counts(sim, fx)
    sim.faults.fail_next(1, status=500)
    with pytest.raises(ServerError):
        await fx.accounts.link(server="Sim-Demo", login=616161, password="pw")
    assert counts[LINK] == 1
    assert counts.retries == 0
    assert sim.accounts() == []


async def test_link_is_not_retried_after_500_that_linked(sim: Simulator, fx: AsyncFxSocket) -> None:
    # The server linked it and only the reply was lost: a retry would be 409 or a twin.
    counts = Counts(sim, fx)
    sim.faults.fail_next(1, status=500, after=True)
    with pytest.raises(ServerError):
        await fx.accounts.link(server="Sim-Demo", login=626262, password="pw")
    assert counts[LINK] == 1
    assert len(sim.accounts()) == 1


async def test_link_is_not_retried_after_connection_failure(anyio_backend: str) -> None:
    port = closed_port()
    with anyio.fail_after(WAIT):
        async with AsyncFxSocket(
            "k", base_url=f"http://127.0.0.1:{port}", retry=RETRY, dialect="reference"
        ) as fx:
            with pytest.raises(ConnectionFailedError):
                await fx.accounts.link(server="Sim-Demo", login=636363, password="pw")
            assert fx.stats()["requests"] == 1
            assert fx.stats()["retries"] == 0
            # An idempotent GET to the same dead port is retried up to max_attempts.
            with pytest.raises(ConnectionFailedError):
                await fx.accounts.list()
            assert fx.stats()["requests"] == 1 + RETRY.max_attempts
            assert fx.stats()["retries"] == RETRY.max_attempts - 1


@pytest.mark.parametrize("retry_after", [1, None])
async def test_link_is_retried_after_429(
    sim: Simulator, fx: AsyncFxSocket, retry_after: int | None
) -> None:
    counts = Counts(sim, fx)
    sim.faults.fail_next(2, status=429, error="rate_limited", retry_after=retry_after)
    with anyio.fail_after(WAIT):
        account = await fx.accounts.link(server="Sim-Demo", login=646464, password="pw")
    assert counts[LINK] == 3
    assert counts.retries == 2
    assert [a.id for a in sim.accounts()] == [account.id]


# ------------------------------------------------------ idempotent orders


@pytest.mark.dialects("reference")  # the terminal's route takes no key: see below
async def test_order_retry_after_server_booked_it_trades_once(
    sim: Simulator,
    fx: AsyncFxSocket,
    connected_account: Account,
    prices: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = record_idempotency_keys(sim, monkeypatch)
    trading = fx.account(connected_account.id)
    counts = Counts(sim, fx)
    # The server books the order, then the client sees a 500 instead of the reply.
    sim.faults.fail_next(1, status=500, after=True)
    with anyio.fail_after(WAIT):
        order = await trading.orders.create("EURUSD", "BUY", 0.1, sl=1.05)
    assert counts[CREATE] == 2
    assert counts.retries == 1
    positions = await trading.positions()
    assert [p.id for p in positions] == [order.id]
    opened = of_type(sim, connected_account.id, OrderOpened)
    assert [e.data.id for e in opened] == [order.id]
    # Both attempts carried the same, minted key.
    assert len(keys) == 2
    assert keys[0] is not None
    assert keys[0] == keys[1]
    assert order.status == "filled"
    assert order.price == pytest.approx(ASK)


@pytest.mark.dialects("reference")  # the terminal's route takes no key: see below
async def test_order_retries_many_times_still_trades_once(
    sim: Simulator,
    fx: AsyncFxSocket,
    connected_account: Account,
    prices: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = record_idempotency_keys(sim, monkeypatch)
    trading = fx.account(connected_account.id)
    counts = Counts(sim, fx)
    sim.faults.fail_next(3, status=502, error="bad_gateway", after=True)
    with anyio.fail_after(WAIT):
        order = await trading.orders.create("EURUSD", "SELL", 0.2)
    assert counts[CREATE] == 4
    assert len(set(keys)) == 1
    assert [p.id for p in await trading.positions()] == [order.id]
    assert len(of_type(sim, connected_account.id, OrderOpened)) == 1


@pytest.mark.dialects("reference")
@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_order_create_succeeds_through_injected_failures(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None, fault: Any
) -> None:
    trading = fx.account(connected_account.id)
    counts = Counts(sim, fx)
    sim.faults.fail_next(2, **fault)
    with anyio.fail_after(WAIT):
        order = await trading.orders.create("EURUSD", "BUY", 0.1)
    assert counts[CREATE] == 3
    assert counts.retries == 2
    assert [p.id for p in await trading.positions()] == [order.id]
    assert len(of_type(sim, connected_account.id, OrderOpened)) == 1


@pytest.mark.dialects("reference")  # the terminal's route takes no key: see below
async def test_each_create_call_mints_its_own_key(
    sim: Simulator,
    fx: AsyncFxSocket,
    connected_account: Account,
    prices: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = record_idempotency_keys(sim, monkeypatch)
    trading = fx.account(connected_account.id)
    first = await trading.orders.create("EURUSD", "BUY", 0.1)
    second = await trading.orders.create("EURUSD", "BUY", 0.1)
    assert first.id != second.id
    assert len(keys) == 2
    assert None not in keys
    assert keys[0] != keys[1]
    assert len(await trading.positions()) == 2


@pytest.mark.dialects("reference")  # the terminal's route takes no key: see below
async def test_caller_idempotency_key_is_used(
    sim: Simulator,
    fx: AsyncFxSocket,
    connected_account: Account,
    prices: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = record_idempotency_keys(sim, monkeypatch)
    trading = fx.account(connected_account.id)
    sim.faults.fail_next(1, status=500, after=True)
    with anyio.fail_after(WAIT):
        order = await trading.orders.create("EURUSD", "BUY", 0.1, idempotency_key="bot-42-entry")
    assert keys == ["bot-42-entry", "bot-42-entry"]
    # The same call again (a restarted bot, say) is a replay, not a second trade.
    again = await trading.orders.create("EURUSD", "BUY", 0.1, idempotency_key="bot-42-entry")
    assert again == order
    assert [p.id for p in await trading.positions()] == [order.id]
    # The same key with another body is a conflict, raised at once.
    counts = Counts(sim, fx)
    with pytest.raises(IdempotencyConflictError):
        await trading.orders.create("EURUSD", "BUY", 0.2, idempotency_key="bot-42-entry")
    assert counts[CREATE] == 1
    assert counts.retries == 0
    assert len(of_type(sim, connected_account.id, OrderOpened)) == 1


# ------------------------------------------- terminal orders: never re-sent


@pytest.mark.dialects("terminal")
@pytest.mark.parametrize("retry_after", [1, None])
async def test_a_terminal_order_refused_with_429_is_sent_again(
    sim: Simulator,
    fx: AsyncFxSocket,
    connected_account: Account,
    prices: None,
    retry_after: int | None,
) -> None:
    # A 429 proves it was not carried out: sending it again cannot trade twice.
    trading = fx.account(connected_account.id)
    await warm_symbols(trading, "EURUSD")
    counts = Counts(sim, fx)
    sim.faults.fail_next(2, status=429, error="rate_limited", retry_after=retry_after)
    with anyio.fail_after(WAIT):
        order = await trading.orders.create("EURUSD", "BUY", 0.1)
    assert counts[CREATE] == 3
    assert counts.retries == 2
    assert [p.id for p in await trading.positions()] == [order.id]


@pytest.mark.dialects("terminal")
@pytest.mark.parametrize("status", [500, 502])
async def test_a_terminal_order_whose_reply_was_lost_is_found_by_its_marker(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None, status: int
) -> None:
    trading = fx.account(connected_account.id)
    await warm_symbols(trading, "EURUSD")
    counts = Counts(sim, fx)
    sim.faults.fail_next(1, status=status, after=True)  # placed, then the reply lost
    with anyio.fail_after(WAIT):
        order = await trading.orders.create("EURUSD", "BUY", 0.1, sl=1.05)
    assert counts[CREATE] == 1  # looked for, never sent again
    (position,) = await trading.positions()
    assert (order.id, order.status, order.sl) == (position.id, "filled", pytest.approx(1.05))
    assert order.comment == position.comment
    assert position.comment.startswith("fxsa-")
    assert len(of_type(sim, connected_account.id, OrderOpened)) == 1


@pytest.mark.dialects("terminal")
async def test_a_terminal_order_that_failed_before_it_was_placed_is_raised_not_resent(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None
) -> None:
    trading = fx.account(connected_account.id)
    await warm_symbols(trading, "EURUSD")
    counts = Counts(sim, fx)
    sim.faults.fail_next(1, status=502, error="bad_gateway")
    with anyio.fail_after(WAIT), pytest.raises(ServerError) as caught:
        await trading.orders.create("EURUSD", "BUY", 0.1)
    assert caught.value.status == 502
    assert counts[CREATE] == 1
    assert counts.retries == 0
    assert await trading.positions() == []


@pytest.mark.dialects("terminal")
async def test_a_terminal_order_with_its_own_comment_is_not_looked_for(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None
) -> None:
    # The caller's comment cannot tell one submission from another: the failure stands.
    trading = fx.account(connected_account.id)
    await warm_symbols(trading, "EURUSD")
    counts = Counts(sim, fx)
    sim.faults.fail_next(1, status=500, after=True)
    with anyio.fail_after(WAIT), pytest.raises(ServerError):
        await trading.orders.create("EURUSD", "BUY", 0.1, comment="grid-1")
    assert counts[CREATE] == 1
    (position,) = await trading.positions()  # placed once, and only once
    assert position.comment == "grid-1"


@pytest.mark.dialects("terminal")
async def test_a_terminal_order_timing_out_is_never_sent_twice(
    sim: Simulator, connected_account: Account, prices: None
) -> None:
    policy = RetryPolicy(max_attempts=4, initial_delay=0.01, max_delay=0.02)
    async with make_client(sim, retry=policy, timeouts=Timeouts(request=0.2)) as fx:
        trading = fx.account(connected_account.id)
        await warm_account(fx, connected_account.id)
        await warm_symbols(trading, "EURUSD")
        counts = Counts(sim, fx)
        sim.faults.set_latency(0.5, account=connected_account.id)
        try:
            with anyio.fail_after(WAIT), pytest.raises(TimeoutError):
                await trading.orders.create("EURUSD", "BUY", 0.1)
        finally:
            sim.faults.set_latency(0, account=connected_account.id)
        assert counts[CREATE] == 1


# ------------------------------------------------------------ close retried


async def test_retried_close_that_went_through_returns_the_close(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None
) -> None:
    trading = fx.account(connected_account.id)
    order = await trading.orders.create("EURUSD", "BUY", 0.1)
    sim.set_price("EURUSD", 1.1050, 1.1052)
    counts = Counts(sim, fx)
    # The first DELETE closes the position, then its reply is lost: the retry gets 404.
    sim.faults.fail_next(1, status=500, after=True, route=route(CLOSE))
    with anyio.fail_after(WAIT):
        closed = await trading.orders.close(order.id)
    assert counts[CLOSE] == 2
    assert closed.id == order.id
    assert closed.status == "closed"
    trades = [t async for t in trading.history()]
    assert [t.id for t in trades] == [order.id]
    assert closed.close_price == pytest.approx(trades[0].close_price)
    assert closed.close_price == pytest.approx(1.1050)
    assert closed.profit == pytest.approx(trades[0].profit)
    (event,) = of_type(sim, connected_account.id, OrderClosed)
    assert event.data.close_price == pytest.approx(closed.close_price)


async def test_retried_cancel_that_went_through_returns_cancelled(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None
) -> None:
    trading = fx.account(connected_account.id)
    order = await trading.orders.create("EURUSD", "BUY_LIMIT", 0.1, price=1.0900)
    assert order.status == "pending"
    fault = {"status": 503 if not is_terminal() else 502, "error": "unavailable"}
    sim.faults.fail_next(1, **fault, after=True, route=route(CLOSE))
    with anyio.fail_after(WAIT):
        closed = await trading.orders.close(order.id)
    assert closed.id == order.id
    assert closed.status == "cancelled"
    assert await trading.orders.pending() == []
    assert len(of_type(sim, connected_account.id, OrderCancelled)) == 1


async def test_close_of_unknown_order_is_not_found_after_one_look_at_the_history(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account
) -> None:
    # Issue 9: any 404 on a close is judged from the history (aiohttp may have re-sent
    # the DELETE itself); an order that was never there is still NotFoundError.
    counts = Counts(sim, fx)
    with pytest.raises(NotFoundError):
        await fx.account(connected_account.id).orders.close(missing_order_id())
    assert counts[CLOSE] == 1
    assert counts.retries == 0
    assert counts[HISTORY] == 1


async def test_retried_close_of_an_order_that_never_existed_is_not_found(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account, prices: None
) -> None:
    # A retry that meets 404 for an order this call never saw open: history does not
    # list it (it never existed), so NotFoundError stands.
    counts = Counts(sim, fx)
    sim.faults.fail_next(1, status=500, route=route(CLOSE))
    with pytest.raises(NotFoundError):
        await fx.account(connected_account.id).orders.close(missing_order_id())
    assert counts[CLOSE] == 2
    assert counts[HISTORY] >= 1


# -------------------------------------------------------------- exhaustion


async def test_retries_stop_after_max_attempts_and_raise_the_last_error(
    sim: Simulator, connected_account: Account
) -> None:
    policy = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02)
    async with make_client(sim, retry=policy) as fx:
        await warm_account(fx, connected_account.id)
        counts = Counts(sim, fx)
        sim.faults.fail_next(1, status=500, message="first")
        sim.faults.fail_next(1, status=502, error="bad_gateway", message="second")
        sim.faults.fail_next(1, status=504, error="gateway_timeout", message="third")
        sim.faults.fail_next(1, status=500, message="never sent")
        with anyio.fail_after(WAIT), pytest.raises(ServerError) as caught:
            await fx.account(connected_account.id).quote("EURUSD")
        sim.faults.clear()
        assert caught.value.status == 504
        assert caught.value.code == "gateway_timeout"
        assert caught.value.message == "third"
        assert counts[QUOTE] == 3
        assert counts.retries == 2


async def test_rate_limited_retries_stop_after_max_attempts(
    sim: Simulator, connected_account: Account
) -> None:
    policy = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02, retry_after_cap=0.01)
    async with make_client(sim, retry=policy) as fx:
        await warm_account(fx, connected_account.id)
        counts = Counts(sim, fx)
        sim.faults.fail_next(5, status=429, error="rate_limited", retry_after=2)
        with anyio.fail_after(WAIT), pytest.raises(RateLimitedError) as caught:
            await fx.account(connected_account.id).positions()
        sim.faults.clear()
        assert caught.value.retry_after == pytest.approx(2.0)
        assert counts[POSITIONS] == 3
        assert counts.retries == 2


async def test_retries_stop_after_max_elapsed(sim: Simulator, connected_account: Account) -> None:
    """A cap on total time: far fewer attempts than max_attempts when every one fails."""
    policy = RetryPolicy(max_attempts=1000, initial_delay=0.02, max_delay=0.02, max_elapsed=0.2)
    async with make_client(sim, retry=policy) as fx:
        await warm_account(fx, connected_account.id)
        counts = Counts(sim, fx)
        sim.faults.fail_next(1000, status=500)
        try:
            with anyio.fail_after(WAIT), pytest.raises(ServerError):
                await fx.account(connected_account.id).quote("EURUSD")
        finally:
            sim.faults.clear()
        assert 2 <= counts[QUOTE] < 1000
        assert counts.retries == counts[QUOTE] - 1


async def test_timeouts_are_retried_for_reads(sim: Simulator, connected_account: Account) -> None:
    policy = RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.02)
    async with make_client(sim, retry=policy, timeouts=Timeouts(request=0.05)) as fx:
        await warm_account(fx, connected_account.id)
        counts = Counts(sim, fx)
        sim.faults.latency = 0.3  # every reply comes too late
        try:
            with anyio.fail_after(WAIT), pytest.raises(TimeoutError) as caught:
                await fx.account(connected_account.id).positions()
        finally:
            sim.faults.latency = 0
        assert isinstance(caught.value, builtins.TimeoutError)
        assert counts[POSITIONS] == 2
        assert counts.retries == 1


async def test_max_attempts_one_turns_retries_off(
    sim: Simulator, connected_account: Account
) -> None:
    async with make_client(sim, retry=RetryPolicy(max_attempts=1)) as fx:
        await warm_account(fx, connected_account.id)
        counts = Counts(sim, fx)
        sim.faults.fail_next(1, status=500)
        with pytest.raises(ServerError):
            await fx.account(connected_account.id).summary()
        assert counts[SUMMARY] == 1
        assert counts.retries == 0
        # And the next call is unaffected.
        assert (await fx.account(connected_account.id).summary()).balance > 0


async def test_trade_key_create_survives_retry(
    sim: Simulator, connected_account: Account, prices: None
) -> None:
    # Keys of one owner see the same accounts; a trade-scoped key places orders.
    async with make_client(sim, key=TRADE_KEY, retry=RETRY) as trader:
        await warm_account(trader, connected_account.id)
        await warm_symbols(trader.account(connected_account.id), "EURUSD")
        sim.faults.fail_next(1, status=500, after=True)
        with anyio.fail_after(WAIT):
            order = await trader.account(connected_account.id).orders.create("EURUSD", "BUY", 0.1)
        assert [p.id for p in await trader.account(connected_account.id).positions()] == [order.id]
