"""The vendor SDK's own test ideas, run against our simulator instead of its mocks.

Its sdist's tests (``test_management``, ``test_errors``, ``test_terminal``,
``test_stream``) mock the service with respx and a toy WebSocket server; here
the same calls go to the simulator, so what they assert about the wire is
checked against what the simulator really answers.
"""

from __future__ import annotations

import time

import anyio
import fxsocket
import pytest
from fxsocket import (
    AccountUpdate,
    AuthError,
    Bar,
    DuplicateAccountError,
    ForbiddenError,
    NotFoundError,
    PaymentRequiredError,
    PositionsUpdate,
    StreamErrorEvent,
    StreamWarning,
    Subscriptions,
    TerminalNotReadyError,
    TerminalUpdate,
    Tick,
    TradeUpdate,
    ValidationError,
)

from fxsocket_async.simulator import Simulator
from tests.helpers.sim import PASSWORD, next_login, sim_config

from .helpers import READ, events_until, link_connected, of

pytestmark = pytest.mark.anyio


def client(sim: Simulator, key: str) -> fxsocket.AsyncClient:
    return fxsocket.AsyncClient(api_key=key, base_url=sim.base_url + "/v1", timeout=10)


# ------------------------------------------------------------------ management


async def test_create_with_proxy_and_trade_ea_symbol(fx: fxsocket.AsyncClient) -> None:
    account = await fx.accounts.create(
        server="Sim-Demo",
        login=next_login(),
        password=PASSWORD,
        trade_ea_symbol="EURUSDm",
        proxy_address="10.0.0.5:1080",
        proxy_type="socks5",
        proxy_auth="user:secret",
        proxy_local_port=1080,
    )
    assert account.proxy_address == "10.0.0.5:1080"
    assert account.proxy_type == "socks5"
    assert account.proxy_local_port == 1080
    assert account.trade_ea_symbol == "EURUSDm"
    got = await fx.accounts.get(account.id)
    assert got.login == account.login


async def test_management_errors_map_to_the_sdks_classes(sim: Simulator) -> None:
    async with client(sim, "nobody") as stranger:
        with pytest.raises(AuthError):
            await stranger.accounts.list()
    settings = sim_config(terminal_interval=None, plan_limit=1)
    async with Simulator(settings) as small, client(small, "full-key") as fx:
        login = next_login()
        await fx.accounts.create(server="Sim-Demo", login=login, password=PASSWORD)
        with pytest.raises(DuplicateAccountError) as duplicate:
            await fx.accounts.create(server="Sim-Demo", login=login, password=PASSWORD)
        assert duplicate.value.status_code == 409
        with pytest.raises(PaymentRequiredError):  # our plan_limit: a 402 it reads
            await fx.accounts.create(server="Sim-Demo", login=next_login(), password=PASSWORD)
        with pytest.raises(NotFoundError):
            await fx.accounts.get("nope")
        await fx.accounts.delete((await fx.accounts.list())[0].id)
        # Our broker_rejected is a 400 the SDK reads as ValidationError (docs/protocol.md).
        with pytest.raises(ValidationError) as rejected:
            await fx.accounts.create(server="Sim-Demo", login=next_login(), password="invalid")
        assert rejected.value.status_code == 400
        assert rejected.value.code == "broker_rejected"


async def test_a_read_key_lists_but_may_not_link(sim: Simulator, fx: fxsocket.AsyncClient) -> None:
    await link_connected(fx)
    async with client(sim, READ) as reader:
        assert len(await reader.accounts.list()) == 1
        with pytest.raises(ForbiddenError):
            await reader.accounts.create(server="Sim-Demo", login=next_login(), password="x")


# ------------------------------------------------------------------- terminal


async def test_terminal_reads(sim: Simulator, fx: fxsocket.AsyncClient) -> None:
    account = await link_connected(fx, platform="mt4")
    term = fx.terminal(account)
    assert fx.terminal(account) is term  # cached per endpoint
    info = await term.account_info()
    assert (info.login, info.margin_mode, info.fifo_close) == (account.login, "Hedging", False)
    zone = await term.server_timezone()
    assert zone.utc_offset_seconds == 0
    health = await term.status()
    assert health.is_ready
    assert health.bridge.trade_ea_ready
    assert (await term.healthz()).status == "ready"
    assert (await term.livez()).status == "ready"
    margin = await term.calc_margin("EURUSD", "Buy", 1.0, 1.08)
    assert margin.margin == pytest.approx(1080.0)
    profit = await term.calc_profit("EURUSD", "Buy", 1.0, 1.08, 1.09)
    assert profit.profit == pytest.approx(1000.0)
    for timeframe in ("M1", "5min", "15min", "M30", "1h", "H4", "1d", "W1", "1month"):
        assert await term.price_history("EURUSD", timeframe)
    ranged = await term.price_history("EURUSD", "M5", from_="2026-06-01", to="2026-06-01T00:10:00")
    assert [c.time for c in ranged] == [
        "2026-06-01T00:00:00.000Z",
        "2026-06-01T00:05:00.000Z",
        "2026-06-01T00:10:00.000Z",
    ]


async def test_probes_parse_their_503_bodies(sim: Simulator, fx: fxsocket.AsyncClient) -> None:
    account = await link_connected(fx)
    term = fx.terminal(account)
    sim.set_account_status(account.id, "disconnected")
    assert (await term.healthz()).status == "down"
    livez = await term.livez()
    assert (livez.status, livez.terminal, livez.account) == ("down", False, False)
    assert (await term.status()).status == "down"
    with pytest.raises(TerminalNotReadyError):
        await term.account_summary()


async def test_terminal_errors(sim: Simulator, fx: fxsocket.AsyncClient) -> None:
    account = await link_connected(fx)
    async with client(sim, READ) as reader:
        with pytest.raises(ForbiddenError):
            await reader.terminal(account).order_send(symbol="EURUSD", operation="Buy", volume=0.1)
        assert (await reader.terminal(account).account_summary()).balance == 10000
    async with client(sim, "nobody") as stranger:
        with pytest.raises(AuthError):
            await stranger.terminal(account).account_summary()
    term = fx.terminal(account)
    with pytest.raises(ValidationError) as invalid:
        await term.order_send(symbol="NOPE", operation="Buy", volume=0.1)
    assert invalid.value.code == "MRPC_VALIDATION"
    with pytest.raises(NotFoundError):
        await term.quote("NOPE")
    sim.faults.fail_next(
        1, status=504, error="MRPC_TIMEOUT", message="timed out", account=account.id
    )
    with pytest.raises(fxsocket.TerminalTimeoutError):
        await term.close_all()


async def test_orders_of_every_operation(sim: Simulator, fx: fxsocket.AsyncClient) -> None:
    account = await link_connected(fx)
    term = fx.terminal(account)
    sim.set_price("EURUSD", 1.10000, 1.10010)
    prices = {
        "BuyLimit": {"price": 1.09},
        "SellLimit": {"price": 1.11},
        "BuyStop": {"price": 1.11},
        "SellStop": {"price": 1.09},
        "BuyStopLimit": {"price": 1.11, "stop_limit_price": 1.105},
        "SellStopLimit": {"price": 1.09, "stop_limit_price": 1.095},
    }
    for operation in fxsocket.OrderOperation:
        result = await term.order_send(
            symbol="EURUSD", operation=operation, volume=0.1, **prices.get(operation.value, {})
        )
        assert result.success, (operation, result)
    opened = await term.opened_orders()
    assert [o.type for o in opened] == [op.value for op in fxsocket.OrderOperation]
    cleared = await term.order_modify(opened[0].ticket, stop_loss=1.05)
    assert cleared.success
    removed = await term.order_modify(opened[0].ticket, clear_stop_loss=True)
    assert removed.success
    assert (await term.opened_orders())[0].stop_loss == 0.0
    summary = await term.close_all(symbol="EURUSD", magic=0)
    assert summary.closed == 2  # the two positions; pending orders stay
    assert len(await term.opened_orders()) == 6


# --------------------------------------------------------------------- stream


async def test_every_topic_streams(sim: Simulator, fx: fxsocket.AsyncClient) -> None:
    account = await link_connected(fx)
    term = fx.terminal(account)
    async with fx.stream(account, auto_reconnect=False) as stream:
        await stream.subscribe_prices("EURUSD")
        await stream.subscribe_bars("EURUSD", "5min")
        await stream.subscribe_account()
        await stream.subscribe_positions()
        await stream.subscribe_trades()
        await stream.subscribe_terminal()
        await stream.subscribe("prices", symbol="NOPE")
        await stream.list_subscriptions()
        await sim.wait_for_terminal_subscriptions(lambda subs: len(subs) == 6)
        await term.order_send(symbol="EURUSD", operation="Buy", volume=0.1)
        sim.set_price("EURUSD", 1.2)

        def finished(events: list[object]) -> bool:
            kinds = {type(e) for e in events}
            wanted = {Tick, Bar, AccountUpdate, PositionsUpdate, TradeUpdate, TerminalUpdate}
            return wanted | {StreamErrorEvent, Subscriptions} <= kinds

        events = await events_until(stream, finished)
    [listing] = of(Subscriptions, events)
    assert {s["topic"] for s in listing.data} == {
        "prices",
        "bars",
        "account",
        "positions",
        "trades",
        "terminal",
    }
    assert of(Bar, events)[-1].timeframe == "M5"
    [error] = of(StreamErrorEvent, events)
    assert error.topic == "prices"


async def test_the_stream_reconnects_and_replays(sim: Simulator, fx: fxsocket.AsyncClient) -> None:
    account = await link_connected(fx)
    expected = [(account.id, "prices", "EURUSD", "")]
    async with fx.stream(account, auto_reconnect=True) as stream:
        await stream.subscribe_prices("EURUSD")
        await sim.wait_for_terminal_subscriptions(expected)
        sim.faults.drop_connections(account=account.id)
        got: list[object] = []
        async with anyio.create_task_group() as tasks:

            async def read() -> None:
                got.extend(await events_until(stream, lambda e: bool(of(Tick, e))))

            tasks.start_soon(read)
            # The SDK reconnects by itself and replays its subscriptions.
            await sim.wait_for_terminal_subscriptions(
                lambda subs: subs == expected and sim.stats.terminal_handshakes == 2, timeout=10
            )
            sim.set_price("EURUSD", 1.3)
        assert of(Tick, got)[0].data.bid == 1.3
    assert sim.stats.terminal_handshakes == 2


async def test_a_warning_counts_dropped_ticks() -> None:
    settings = sim_config(terminal_interval=None, terminal_queue_limit=2)
    async with Simulator(settings) as sim, client(sim, "full-key") as small:
        account = await link_connected(small)
        async with small.stream(account) as stream:
            await stream.subscribe_prices("EURUSD")
            # Read the acknowledgement first: the stalled queue then starts empty.
            await events_until(stream, lambda e: bool(e))
            sim.faults.stall_writes(account=account.id)
            for step in range(5):
                sim.set_price("EURUSD", 1.1 + step / 1000)
            sim.faults.resume_writes(account=account.id)
            events = await events_until(stream, lambda e: bool(of(StreamWarning, e)))
    [warning] = of(StreamWarning, events)
    assert warning.dropped == 3
    assert [t.data.bid for t in of(Tick, events)] == [1.1, 1.101]


async def test_the_sync_client_and_stream_in_a_thread(sim: Simulator) -> None:
    """The vendor's sync ``Client`` (httpx) and ``Stream`` (its own loop thread) in a worker
    thread, the simulator on the test's loop."""

    def work() -> tuple[fxsocket.AccountSummary, TradeUpdate | None]:
        with fxsocket.Client(api_key="full-key", base_url=sim.base_url + "/v1") as fx:
            account = fx.accounts.create(server="Sim-Demo", login=next_login(), password="p")
            # The service's documented protocol: poll until connected (bounded).
            for _ in range(500):
                account = fx.accounts.get(account.id)
                if account.status == fxsocket.TradingStatus.CONNECTED:
                    break
                time.sleep(0.02)
            term = fx.terminal(account)
            trade = None
            stream = fx.stream(account)
            try:
                with stream:
                    stream.subscribe_trades()
                    term.order_send(symbol="EURUSD", operation="Sell", volume=0.1)
                    for _, event in zip(range(100), stream, strict=False):
                        if isinstance(event, TradeUpdate):
                            trade = event
                            break
            finally:
                # The vendor's Stream.close stops its private loop but never closes it
                # (its self-pipe would leak as a ResourceWarning).
                stream._loop.close()
            return term.account_summary(), trade

    with anyio.fail_after(30):
        summary, trade = await anyio.to_thread.run_sync(work)
    assert summary.margin > 0
    assert trade is not None
    assert trade.data.entry == "In"
