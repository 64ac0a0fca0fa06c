"""What the terminal dialect adds to ``fx.account(id)``, through the public API.

Symbols and their specs, the broker's clock, calculators, deal and position
history, health, close-all and partial closes: the simulator's terminal
answers them over 127.0.0.1; the reference routes refuse them before sending.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from fxsocket_async import AsyncFxSocket, UnsupportedError, ValidationError
from fxsocket_async.simulator import Simulator
from fxsocket_async.simulator._terminal_app import TERMINAL_ROUTES
from fxsocket_async.types import (
    Account,
    CloseAllSummary,
    OrderPartiallyClosed,
    SymbolInfo,
    TerminalHealth,
)
from tests.helpers.sim import WAIT, link

pytestmark = pytest.mark.anyio


@pytest.fixture
def prices(sim: Simulator) -> None:
    sim.set_price("EURUSD", 1.1000, 1.1002)
    sim.set_price("GBPUSD", 1.2500, 1.2503)


@pytest.mark.dialects("terminal")
async def test_every_terminal_route_is_reached_by_the_public_api(
    fx: AsyncFxSocket, sim: Simulator, prices: None
) -> None:
    with anyio.fail_after(WAIT):
        account = await link(fx, connected=True)
        trading = fx.account(account.id)
        assert await trading.dialect() == "terminal"
        await trading.summary()
        assert "EURUSD" in await trading.symbols()
        info = await trading.symbol_info("EURUSD")
        zone = await trading.server_timezone()
        await trading.quote("EURUSD")
        await trading.candles("EURUSD", "M5", limit=3)
        margin = await trading.calc_margin("EURUSD", "BUY", 0.1, 1.1002)
        profit = await trading.calc_profit("EURUSD", "BUY", 0.1, 1.1000, 1.1010)
        order = await trading.orders.create("EURUSD", "BUY", 0.2)
        await trading.orders.modify(order.id, tp=1.12)
        part = await trading.orders.close(order.id, volume=0.1)
        await trading.orders.close(order.id)
        await trading.orders.create("GBPUSD", "SELL", 0.1)
        everything = await trading.orders.close_all()
        deals = await trading.order_history()
        closed = await trading.position_history()
        health = await trading.health()
    reached = {f"{m} /terminal/{{account_id}}{path}" for m, path, _ in TERMINAL_ROUTES}
    # /AccountInfo repeats /AccountSummary's figures: the library reads the summary only.
    reached.discard("GET /terminal/{account_id}/AccountInfo")
    assert reached <= set(sim.stats.routes)
    assert isinstance(info, SymbolInfo)
    assert info.volume_step > 0
    assert info.contract_size > 0
    assert zone.server_time
    assert margin.margin > 0
    assert profit.profit == pytest.approx(10.0, abs=0.5)
    assert part.status == "closed"
    assert part.close_price is not None
    assert isinstance(everything, CloseAllSummary)
    assert (everything.requested, everything.closed, everything.failed) == (1, 1, 0)
    assert {d.entry.lower() for d in deals} >= {"in", "out"}
    assert [p.symbol for p in closed].count("EURUSD") >= 1
    assert isinstance(health, TerminalHealth)
    assert health.ready


@pytest.mark.dialects("terminal")
async def test_symbol_limits_refuse_an_order_before_it_is_sent(
    fx: AsyncFxSocket, sim: Simulator, prices: None
) -> None:
    account = await link(fx, connected=True)
    trading = fx.account(account.id)
    info = await trading.symbol_info("EURUSD")
    sent = sim.stats.routes.get("POST /terminal/{account_id}/OrderSend", 0)
    with anyio.fail_after(WAIT):
        for volume in (info.volume_min / 2, info.volume_max * 2, info.volume_min * 1.5):
            with pytest.raises(ValidationError) as caught:
                await trading.orders.create("EURUSD", "BUY", volume)
            assert caught.value.code == "invalid_volume"
            assert "EURUSD" in caught.value.message
        with pytest.raises(ValidationError, match="symbols\\(\\) lists them"):
            await trading.orders.create("NOPE", "BUY", 0.1)
    assert sim.stats.routes.get("POST /terminal/{account_id}/OrderSend", 0) == sent


@pytest.mark.dialects("terminal")
async def test_a_partial_close_keeps_the_rest_open_and_is_an_event(
    fx: AsyncFxSocket, sim: Simulator, prices: None
) -> None:
    account = await link(fx, connected=True)
    trading = fx.account(account.id)
    async with fx.events(account=account.id) as events:
        order = await trading.orders.create("EURUSD", "BUY", 0.5)
        await trading.orders.close(order.id, volume=0.2)
        with anyio.fail_after(WAIT):
            (position,) = await trading.positions()
            assert position.volume == pytest.approx(0.3)
            async for event in events:
                if isinstance(event, OrderPartiallyClosed):
                    break
    assert event.data.id == order.id
    assert (event.data.volume, event.data.remaining) == (pytest.approx(0.2), pytest.approx(0.3))


@pytest.mark.dialects("terminal")
async def test_market_times_convert_to_utc_with_the_servers_offset(
    fx: AsyncFxSocket, sim: Simulator
) -> None:
    account = await link(fx, connected=True)
    trading = fx.account(account.id)
    with anyio.fail_after(WAIT):
        zone = await trading.server_timezone()
        broker = datetime(2026, 6, 22, 15, 30, tzinfo=UTC)  # the wire labels it Z
        utc = await trading.to_utc(broker)
    assert utc == broker - timedelta(seconds=zone.utc_offset_seconds)
    assert utc.tzinfo is UTC


@pytest.mark.dialects("reference")
async def test_the_reference_routes_refuse_what_only_a_terminal_has(
    fx: AsyncFxSocket, sim: Simulator, connected_account: Account
) -> None:
    trading = fx.account(connected_account.id)
    before = sim.stats.requests
    assert await trading.dialect() == "reference"
    for call in (
        lambda: trading.symbols(),
        lambda: trading.symbol_info("EURUSD"),
        lambda: trading.server_timezone(),
        lambda: trading.calc_margin("EURUSD", "BUY", 0.1, 1.1),
        lambda: trading.orders.close_all(),
        lambda: trading.order_history(),
        lambda: trading.health(),
        lambda: trading.orders.close("ord_1", volume=0.1),
    ):
        with pytest.raises(UnsupportedError) as caught:
            await call()
        assert "terminal" in caught.value.message
    assert sim.stats.requests == before
