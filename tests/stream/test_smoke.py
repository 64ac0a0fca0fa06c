"""The shortest path through the stream: one quote and one order event arrive."""

from __future__ import annotations

import anyio
import pytest

from fxsocket_async import AsyncFxSocket
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, OrderOpened, Quote

from .conftest import WAIT

pytestmark = pytest.mark.anyio


async def test_a_quote_and_an_order_event_arrive(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    async with (
        fx.quotes("EURUSD", account=account.id) as quotes,
        fx.events(account=account.id) as events,
    ):
        moved = sim.set_price("EURUSD", 1.1, 1.1002)
        with anyio.fail_after(WAIT):
            quote = await anext(quotes)
        assert quote == Quote(symbol="EURUSD", bid=moved.bid, ask=moved.ask, time=moved.time)
        order = await fx.account(account.id).orders.create("EURUSD", "BUY", 0.1)
        with anyio.fail_after(WAIT):
            event = await anext(events)
        assert isinstance(event, OrderOpened)
        assert event.data.id == order.id
        assert not event.recovered
