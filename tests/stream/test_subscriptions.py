"""Subscribing through the public API: sharing, refusals, fatal handshakes, odd frames.

How the server's subscription set is observed without a steering handle for
it: every frame the client receives is counted in ``fx.stats()["stream"].frames``,
and the server answers every subscribe and unsubscribe with one frame
(``subscribed`` / ``unsubscribed`` / ``error``). The server handles one
connection's messages in order, so once a later subscribe (a *probe*) has been
acknowledged, every reply to what the client sent before it has arrived. After
that, a price move of a symbol the server no longer holds sends no frame,
which a sentinel quote on the probe's symbol makes visible.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

import anyio
import pytest

from fxsocket_async import (
    AsyncFxSocket,
    AuthenticationError,
    EventSubscription,
    FxSocketError,
    PermissionDeniedError,
    QuoteSubscription,
    SubscriptionRefusedError,
)
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, OrderOpened, Quote, UnknownEvent
from tests.helpers.dialects import is_terminal

from .conftest import WAIT, link, make_streaming_client

pytestmark = pytest.mark.anyio

STREAM_LOGGER = "fxsocket_async.stream"


def frames(fx: AsyncFxSocket) -> int:
    return fx.stats()["stream"].frames


async def read(sub: QuoteSubscription, count: int = 1) -> list[Quote]:
    with anyio.fail_after(WAIT):
        return [await anext(sub) for _ in range(count)]


async def assert_reads(sub: QuoteSubscription, moved: Quote) -> None:
    (got,) = await read(sub)
    assert (got.symbol, got.bid, got.ask, got.time) == (
        moved.symbol,
        moved.bid,
        moved.ask,
        moved.time,
    )


# ------------------------------------------------------------- connection


async def test_connect_stream_opens_the_connection_without_subscriptions(
    sim: Simulator, fx: AsyncFxSocket
) -> None:
    assert sim.stats.ws_handshakes == 0  # nothing until it is needed
    assert not fx.stats()["stream"].connected
    with anyio.fail_after(WAIT):
        await fx.connect_stream()
        await fx.connect_stream()  # idempotent
    stats = fx.stats()["stream"]
    assert stats.connected
    assert (stats.frames, stats.consumers, stats.reconnects) == (0, 0, 0)
    assert (sim.stats.ws_handshakes, sim.stats.ws_connections) == (1, 1)


async def test_the_first_subscription_opens_the_one_connection(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    assert sim.stats.ws_handshakes == 0
    async with (
        fx.quotes("EURUSD", account=account.id) as quotes,
        fx.quotes("GBPUSD", account=account.id),
        fx.events(account=account.id),
    ):
        assert (sim.stats.ws_handshakes, sim.stats.ws_connections) == (1, 1)
        assert fx.stats()["stream"].consumers == 3
        await assert_reads(quotes, sim.set_price("EURUSD", 1.1))


# ---------------------------------------------------- shared subscriptions


async def test_one_server_subscribe_however_many_local_consumers(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    with anyio.fail_after(WAIT):
        await fx.connect_stream(account=account.id)
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(fx.quotes("EURUSD", account=account.id))
        assert frames(fx) == 1  # the one `subscribed`
        others = [
            await stack.enter_async_context(fx.quotes("EURUSD", account=account.id))
            for _ in range(9)
        ]
        assert frames(fx) == 1  # no further subscribe was acknowledged...
        moved = sim.set_price("EURUSD", 1.1)
        for sub in (first, *others):
            await assert_reads(sub, moved)
        assert frames(fx) == 2  # ...nor is one still on its way: only the quote came
        assert fx.stats()["stream"].consumers == 10


@pytest.mark.dialects("reference")  # counts the reference's acks; the terminal's: tests/core
@pytest.mark.parametrize("kind", ["quotes", "events"])
async def test_the_subscription_that_opens_the_connection_subscribes_once(
    sim: Simulator, fx: AsyncFxSocket, account: Account, kind: str
) -> None:
    sub = (
        fx.quotes("EURUSD", account=account.id)
        if kind == "quotes"
        else fx.events(account=account.id)
    )
    acks = 1 if kind == "quotes" else 2  # events: the orders and account channels
    with anyio.fail_after(WAIT):
        async with sub:
            assert frames(fx) == acks


async def test_the_unsubscribe_goes_out_when_the_last_consumer_leaves(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    with anyio.fail_after(WAIT):
        await fx.connect_stream(account=account.id)
    async with contextlib.AsyncExitStack() as stack:
        a, b, c = [
            await stack.enter_async_context(fx.quotes("EURUSD", account=account.id))
            for _ in range(3)
        ]
        before = frames(fx)
        await a.aclose()
        await b.aclose()
        # Probe: once its subscribe is acknowledged, any reply to an earlier message is in.
        async with fx.quotes("GBPUSD", account=account.id) as probe:
            assert frames(fx) - before == 1  # the probe's ack: no `unsubscribed` for a or b
            await assert_reads(c, sim.set_price("EURUSD", 1.1))  # still subscribed

            before = frames(fx)
            await c.aclose()  # the last EURUSD consumer
            async with fx.quotes("XAUUSD", account=account.id):
                assert frames(fx) - before == 2  # `unsubscribed`, then the probe's ack

            before = frames(fx)
            sim.set_price("EURUSD", 1.2)  # the server no longer holds EURUSD: no frame
            await assert_reads(probe, sim.set_price("GBPUSD", 1.3))
            assert frames(fx) - before == 1
        assert fx.stats()["stream"].consumers == 0


async def test_leaving_unsubscribes_only_the_symbols_no_one_else_needs(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    async with fx.quotes("EURUSD", account=account.id) as stays:
        async with fx.quotes("EURUSD", "GBPUSD", account=account.id) as leaves:
            await assert_reads(leaves, sim.set_price("GBPUSD", 1.3))
        async with fx.quotes("XAUUSD", account=account.id):  # probe
            pass
        before = frames(fx)
        sim.set_price("GBPUSD", 1.31)  # unsubscribed: no frame
        await assert_reads(stays, sim.set_price("EURUSD", 1.1))
        assert frames(fx) - before == 1


# --------------------------------------------------------------- refusals


async def _unknown_symbol(sim: Simulator, fx: AsyncFxSocket, account: Account) -> QuoteSubscription:
    return fx.quotes("NOPE", account=account.id)


async def _unknown_symbol_beside_a_good_one(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> QuoteSubscription:
    return fx.quotes("GBPUSD", "NOPE", account=account.id)


async def _unknown_account(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> QuoteSubscription:
    return fx.quotes("EURUSD", account="no-such-account")


async def _connecting_account(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> QuoteSubscription:
    with anyio.fail_after(WAIT):
        other = await link(fx, connected=True)
    sim.set_account_status(other.id, "connecting")
    return fx.quotes("EURUSD", account=other.id)


Refused = Callable[[Simulator, AsyncFxSocket, Account], Awaitable[QuoteSubscription]]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (_unknown_symbol, "invalid_symbol"),
        (_unknown_symbol_beside_a_good_one, "invalid_symbol"),
        (_unknown_account, "not_found"),
        (_connecting_account, "terminal_not_ready"),
    ],
    ids=["unknown-symbol", "unknown-symbol-beside-a-good-one", "unknown-account", "connecting"],
)
async def test_a_refused_subscription_raises_and_is_neither_kept_nor_replayed(
    sim: Simulator,
    fx: AsyncFxSocket,
    account: Account,
    caplog: pytest.LogCaptureFixture,
    make: Refused,
    code: str,
) -> None:
    caplog.set_level(logging.WARNING, STREAM_LOGGER)
    if is_terminal():
        if code == "terminal_not_ready":
            code = ""  # a terminal that is up takes subscriptions while its broker reconnects
        elif code == "invalid_symbol":
            code = "subscription_refused"  # its error frames carry a message, no code
    async with fx.quotes("EURUSD", account=account.id) as live:
        refused = await make(sim, fx, account)
        if not code:
            with anyio.fail_after(WAIT):
                async with refused:
                    return
        with anyio.fail_after(WAIT), pytest.raises(SubscriptionRefusedError) as caught:
            async with refused:
                pytest.fail("a refused subscription was entered")
        assert caught.value.code == code
        assert caught.value.message  # the server's text
        assert fx.stats()["stream"].consumers == 1
        with anyio.fail_after(WAIT), pytest.raises(FxSocketError):
            await anext(refused)  # it was never opened

        before = frames(fx)
        sim.faults.drop_connections()
        # The probe's ack comes after every reply to the replay sent on reconnecting.
        async with fx.quotes("XAUUSD", account=account.id):
            assert fx.stats()["stream"].reconnects == 1
            assert frames(fx) - before == 2  # the replayed EURUSD, and the probe
        await assert_reads(live, sim.set_price("EURUSD", 1.1))
    assert sim.stats.ws_handshakes == 2
    assert [r.getMessage() for r in caplog.records if "stream error" in r.getMessage()] == []


async def test_a_refusal_leaves_the_shared_symbols_refcount_alone(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    async with fx.quotes("EURUSD", account=account.id) as live:
        with anyio.fail_after(WAIT), pytest.raises(SubscriptionRefusedError):
            async with fx.quotes("EURUSD", "NOPE", account=account.id):
                pass
        await assert_reads(live, sim.set_price("EURUSD", 1.1))
    # `live` was the last EURUSD consumer: its leaving unsubscribes.
    async with fx.quotes("GBPUSD", account=account.id) as probe:
        before = frames(fx)
        sim.set_price("EURUSD", 1.2)
        await assert_reads(probe, sim.set_price("GBPUSD", 1.3))
        assert frames(fx) - before == 1


# ------------------------------------------------------- fatal handshakes


async def test_a_refused_key_is_fatal(sim: Simulator) -> None:
    async with make_streaming_client(sim, key="no-such-key") as fx:
        with anyio.fail_after(WAIT), pytest.raises(AuthenticationError) as caught:
            async with fx.quotes("EURUSD", account="any-account"):
                pytest.fail("subscribed with a key the server refuses")
        assert (caught.value.status, caught.value.code) == (401, "unauthorized")
        with anyio.fail_after(WAIT), pytest.raises(AuthenticationError):
            await fx.connect_stream()
        with anyio.fail_after(WAIT), pytest.raises(AuthenticationError):
            async with fx.quotes("GBPUSD", account="any-account"):
                pass
        assert not fx.stats()["stream"].connected
        assert fx.stats()["stream"].consumers == 0
    assert sim.stats.ws_handshakes == 1  # never retried


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthenticationError), (403, PermissionDeniedError)]
)
async def test_a_fatal_handshake_reaches_consumers_already_iterating(
    sim: Simulator, fx: AsyncFxSocket, account: Account, status: int, error: type[FxSocketError]
) -> None:
    outcomes: dict[str, BaseException] = {}

    async def consume(name: str, feed: QuoteSubscription | EventSubscription) -> None:
        try:
            async for _ in feed:
                pass
        except FxSocketError as exc:
            outcomes[name] = exc

    async with (
        fx.quotes("EURUSD", account=account.id) as quotes,
        fx.events(account=account.id) as events,
    ):
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume, "quotes", quotes)
                tg.start_soon(consume, "events", events)
                await anyio.wait_all_tasks_blocked()  # both wait in anext
                sim.faults.refuse_handshakes(status=status)
                sim.faults.drop_connections()

        assert sorted(outcomes) == ["events", "quotes"]
        for exc in outcomes.values():
            assert isinstance(exc, error)
            assert exc.status == status
        assert not fx.stats()["stream"].connected
        with anyio.fail_after(WAIT), pytest.raises(error):
            async with fx.quotes("GBPUSD", account=account.id):
                pass
    assert sim.stats.ws_refused == 1  # not retried


# ----------------------------------------------------------- odd frames


async def test_unknown_event_types_reach_events_consumers_unless_filtered(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    raw = {"type": "news", "account_id": account.id, "headline": "x"}
    async with (
        fx.events(account=account.id) as everything,
        fx.events(account=account.id, include_unknown=False) as known_only,
    ):
        sim.faults.send_raw(json.dumps(raw))
        order = await fx.account(account.id).orders.create("EURUSD", "BUY", 0.1)
        with anyio.fail_after(WAIT):
            first, second = await anext(everything), await anext(everything)
            filtered = await anext(known_only)
        assert first == UnknownEvent(type="news", raw=raw)
        assert isinstance(second, OrderOpened)
        assert second.data.id == order.id
        assert isinstance(filtered, OrderOpened)  # the unknown one was left out
        assert filtered.data.id == order.id
        stats = fx.stats()["stream"]
        assert (stats.unknown_events, stats.decode_errors, stats.reconnects) == (1, 0, 0)


@pytest.mark.parametrize(
    "frame",
    [
        "{not json",
        "[1, 2]",
        '{"type": 7}',
        '{"headline": "no type"}',
        '{"type": "quote", "account_id": "x"}',  # a known type breaking its contract
    ],
)
async def test_a_malformed_frame_is_counted_and_the_stream_goes_on(
    sim: Simulator, fx: AsyncFxSocket, account: Account, frame: str
) -> None:
    if is_terminal() and '"quote"' in frame:
        frame = '{"type": "tick", "symbol": "x"}'  # the terminal's known type, broken
    async with (
        fx.quotes("EURUSD", account=account.id) as quotes,
        fx.events(account=account.id) as events,
    ):
        before = frames(fx)
        sim.faults.send_raw(frame)
        await assert_reads(quotes, sim.set_price("EURUSD", 1.1))
        stats = fx.stats()["stream"]
        assert stats.decode_errors == 1
        assert stats.frames - before == 2  # the bad one is counted as a frame too
        assert (stats.connected, stats.reconnects, stats.unknown_events) == (True, 0, 0)
        order = await fx.account(account.id).orders.create("EURUSD", "BUY", 0.1)
        with anyio.fail_after(WAIT):
            event = await anext(events)
        assert isinstance(event, OrderOpened)
        assert event.data.id == order.id


async def test_malformed_frames_are_logged_once_with_their_first_bytes(
    sim: Simulator, fx: AsyncFxSocket, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, STREAM_LOGGER)
    async with fx.quotes("EURUSD", account=account.id) as quotes:
        for i in range(3):
            sim.faults.send_raw(f"{{not json {i}")
        await assert_reads(quotes, sim.set_price("EURUSD", 1.1))
    assert fx.stats()["stream"].decode_errors == 3
    logged = [r.getMessage() for r in caplog.records if r.name == STREAM_LOGGER]
    assert len(logged) == 1
    assert "{not json 0" in logged[0]


async def test_the_server_holds_one_subscription_until_the_last_consumer_leaves(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    quotes_of = [(account.id, "quotes", ("EURUSD",))]
    with anyio.fail_after(WAIT):
        async with fx.quotes("EURUSD", account=account.id) as first:
            assert sim.subscriptions() == quotes_of
            async with fx.quotes("EURUSD", account=account.id):
                assert sim.subscriptions() == quotes_of  # shared, not sent again
            assert sim.subscriptions() == quotes_of  # one consumer is still there
            sim.set_price("EURUSD", 1.2345)
            assert (await anext(first)).bid == 1.2345
        await _until(lambda: sim.subscriptions() == [])


async def test_an_events_consumer_holds_the_orders_and_account_channels(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    with anyio.fail_after(WAIT):
        async with fx.events(account=account.id), fx.events(account=account.id):
            assert sim.subscriptions() == [
                (account.id, "account", ()),
                (account.id, "orders", ()),
            ]
        await _until(lambda: sim.subscriptions() == [])


async def _until(condition: Callable[[], bool]) -> None:
    # The unsubscribe is sent without waiting for its ack; the server applies it
    # when the frame arrives. Bounded in count; the caller bounds it in time.
    for _ in range(500):
        if condition():
            return
        await anyio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_a_subscription_refused_on_replay_ends_its_consumers(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    other = await link(fx, connected=True)
    with anyio.fail_after(WAIT):
        async with (
            fx.quotes("EURUSD", account=account.id) as quotes,
            fx.events(account=account.id) as events,
            fx.quotes("EURUSD", account=other.id) as others,
        ):
            await fx.accounts.unlink(account.id)
            sim.faults.drop_connections()  # the replay after reconnecting is refused
            with pytest.raises(SubscriptionRefusedError) as refused:
                await anext(quotes)
            assert refused.value.code == "not_found"
            with pytest.raises(SubscriptionRefusedError):
                await _read_until_it_ends(events)  # a status event or gap may come first
            # The other account's subscription was replayed and goes on.
            await _until(lambda: (other.id, "quotes", ("EURUSD",)) in sim.subscriptions())
            sim.set_price("EURUSD", 1.2468)
            assert 1.2468 in [q.bid for q in await _read_some(others, until_bid=1.2468)]


async def _read_until_it_ends(events: EventSubscription) -> None:
    for _ in range(100):
        await anext(events)


async def _read_some(quotes: QuoteSubscription, until_bid: float) -> list[Quote]:
    got: list[Quote] = []
    for _ in range(100):
        got.append(await anext(quotes))
        if got[-1].bid == until_bid:
            break
    return got
