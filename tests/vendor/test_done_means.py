"""Issue 10's "Done means": the vendor SDK drives our simulator, MT5 and MT4 alike.

Its ``AsyncClient`` lists and links accounts, waits for ``connected``, opens
``fx.terminal(account)``, reads the summary, a quote, symbols, symbol info and
price history, sends, modifies and closes orders, closes all, and streams
prices and trades through its ``AsyncStream``.
"""

from __future__ import annotations

import fxsocket
import pytest
from fxsocket import (
    DealEntry,
    OrderOperation,
    Platform,
    Subscribed,
    TerminalNotReadyError,
    Tick,
    Timeframe,
    TradeUpdate,
    TradingStatus,
)

from fxsocket_async.simulator import Simulator
from tests.helpers.sim import PASSWORD, next_login

from .helpers import events_until, of, wait_connected

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("platform", ["mt5", "mt4"])
async def test_the_vendor_sdk_drives_the_simulator(
    sim: Simulator, fx: fxsocket.AsyncClient, platform: str
) -> None:
    # Management: list, link, wait for connected.
    assert await fx.accounts.list() == []
    created = await fx.accounts.create(
        server="Sim-Demo", login=next_login(), password=PASSWORD, platform=platform, nickname="v"
    )
    assert created.status is TradingStatus.CONNECTING
    assert created.platform is Platform(platform)
    assert not created.has_terminal  # still provisioning: no rest_url yet
    with pytest.raises(TerminalNotReadyError):
        fx.terminal(created)
    account = await wait_connected(fx, created.id)
    assert account.has_terminal
    assert account.rest_url == f"{sim.base_url}/terminal/{account.id}"
    assert [a.id for a in await fx.accounts.list()] == [account.id]

    # The terminal: account state and market data.
    term = fx.terminal(account)
    assert term.platform is Platform(platform)
    summary = await term.account_summary()
    assert (summary.balance, summary.equity, summary.currency) == (10000.0, 10000.0, "USD")
    sim.set_price("EURUSD", 1.10000, 1.10010)
    quote = await term.quote("EURUSD")
    assert (quote.bid, quote.ask) == (1.1, 1.1001)
    assert await term.symbols() == ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"]
    info = await term.symbol_info("EURUSD")
    assert (info.digits, info.contract_size, info.volume_min, info.volume_step) == (
        5,
        100000.0,
        0.01,
        0.01,
    )
    assert len(info.sessions) == 7
    assert info.commissions
    bars = await term.price_history("EURUSD", Timeframe.H1)
    assert bars
    assert bars[-1].close == 1.1

    # Streaming and trading.
    async with fx.stream(account) as stream:
        await stream.subscribe_prices("EURUSD")
        await stream.subscribe_trades()
        await sim.wait_for_terminal_subscriptions(
            [(account.id, "prices", "EURUSD", ""), (account.id, "trades", "", "")]
        )
        sent = await term.order_send(
            symbol="EURUSD", operation=OrderOperation.BUY, volume=0.3, stop_loss=1.09, magic=11
        )
        assert sent.success
        assert sent.is_effective
        assert sent.outcome == "applied"
        ticket = sent.order
        assert (sent.deal == 0) == (platform == "mt4")
        modified = await term.order_modify(ticket, take_profit=1.12)
        assert modified.success
        again = await term.order_modify(ticket, take_profit=1.12)
        assert again.is_no_change
        assert again.is_effective
        sim.set_price("EURUSD", 1.10050, 1.10060)
        partial = await term.order_close(ticket, volume=0.1)
        assert (partial.success, partial.volume) == (True, 0.1)
        await term.order_send(symbol="EURUSD", operation="Sell", volume=0.1)
        pending = await term.order_send(
            symbol="EURUSD", operation="BuyLimit", volume=0.1, price=1.09
        )
        assert pending.retcode == 10008
        opened = await term.opened_orders()
        assert [o.is_pending for o in opened] == [False, False, True]
        assert opened[0].lots == pytest.approx(0.2)
        closed = await term.close_all(delete_pending=True)
        assert (closed.requested, closed.closed, closed.failed) == (3, 3, 0)
        assert [r.is_pending for r in closed.results] == [False, False, True]
        assert await term.opened_orders() == []

        def finished(events: list[object]) -> bool:
            deals = of(TradeUpdate, events)
            return len(deals) == 5 and bool(of(Tick, events))

        events = await events_until(stream, finished)
    assert [e.topic for e in of(Subscribed, events)] == ["prices", "trades"]
    ticks = of(Tick, events)
    assert ticks[0].data.bid == 1.1005
    deals = [t.data for t in of(TradeUpdate, events)]
    assert [d.entry for d in deals] == [DealEntry.IN, DealEntry.OUT, DealEntry.IN] + [
        DealEntry.OUT
    ] * 2
    assert deals[0].position == ticket
    assert deals[0].magic == 11
    assert deals[1].volume == pytest.approx(0.1)
    assert deals[1].profit == pytest.approx(4.0)
    assert {d.position for d in deals if d.position == ticket} == {ticket}
    if platform == "mt4":
        assert {d.deal for d in deals} == {0}
    else:
        assert all(d.deal > 0 for d in deals)

    # History: the deals and the round trips, then unlink.
    history = await term.order_history()
    positions = await term.position_history()
    assert {p.position_id for p in positions} == {ticket, deals[2].position}
    assert history
    await fx.accounts.delete(account.id)
    assert await fx.accounts.list() == []
