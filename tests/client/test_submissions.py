"""A submission is found by the marker it carried: open, pending, and after it closed."""

from __future__ import annotations

import anyio
import pytest

from fxsocket_async import AsyncFxSocket
from fxsocket_async._core.models import CreateOrderRequest
from fxsocket_async._rest.submissions import find_submission, submission_marker
from fxsocket_async.types import Account
from tests.helpers.sim import PASSWORD, SERVER, WAIT, next_login

pytestmark = pytest.mark.anyio

_BUY = CreateOrderRequest(symbol="EURUSD", type="BUY", volume=0.01)


@pytest.mark.dialects("terminal")
async def test_a_filled_submission_is_found_while_open_and_after_it_closed(
    fx: AsyncFxSocket, connected_account: Account
) -> None:
    orders = fx.account(connected_account.id).orders
    with anyio.fail_after(WAIT):
        dialect, marker = await submission_marker(orders, _BUY, "one-key")
        assert dialect == "terminal"
        assert marker is not None
        assert marker.startswith("fxsa-")
        assert await find_submission(orders, marker) is None  # not sent yet
        order = await orders.create("EURUSD", "BUY", 0.01, idempotency_key="one-key")
        open_now = await find_submission(orders, marker)
        await orders.close(order.id)
        # Closed before anyone looked (a stop, a take-profit, a bridge down meanwhile):
        # its opening deal still carries the marker, so it is never sent again.
        closed = await find_submission(orders, marker)
    assert open_now is not None
    assert (open_now.id, open_now.status) == (order.id, "filled")
    assert closed is not None
    assert (closed.id, closed.status) == (order.id, "closed")
    assert (closed.symbol, closed.type, closed.volume) == ("EURUSD", "BUY", 0.01)


@pytest.mark.dialects("terminal")
async def test_on_mt4_a_closed_submission_is_found_by_its_closed_order(fx: AsyncFxSocket) -> None:
    # MetaTrader 4 has no deals: its history lists closed orders, comments kept.
    with anyio.fail_after(WAIT):
        linked = await fx.accounts.link(
            server=SERVER, login=next_login(), password=PASSWORD, platform="mt4"
        )
        await fx.accounts.wait_connected(linked.id, timeout=WAIT)
        orders = fx.account(linked.id).orders
        _, marker = await submission_marker(orders, _BUY, "mt4-key")
        assert marker is not None
        order = await orders.create("EURUSD", "BUY", 0.01, idempotency_key="mt4-key")
        await orders.close(order.id)
        closed = await find_submission(orders, marker)
    assert closed is not None
    assert (closed.id, closed.status, closed.type) == (order.id, "closed", "BUY")


@pytest.mark.dialects("terminal")
async def test_a_pending_submission_is_found_as_it_is(
    fx: AsyncFxSocket, connected_account: Account
) -> None:
    orders = fx.account(connected_account.id).orders
    account = fx.account(connected_account.id)
    with anyio.fail_after(WAIT):
        price = round((await account.quote("EURUSD")).ask - 0.01, 5)
        limit = CreateOrderRequest(symbol="EURUSD", type="BUY_LIMIT", volume=0.01, price=price)
        _, marker = await submission_marker(orders, limit, "pending-key")
        assert marker is not None
        order = await orders.create(
            "EURUSD", "BUY_LIMIT", 0.01, price=price, idempotency_key="pending-key"
        )
        found = await find_submission(orders, marker)
    assert found is not None
    assert found.id == order.id
    assert found.status == order.status


async def test_no_marker_where_the_key_travels_or_a_comment_takes_its_place(
    fx: AsyncFxSocket, connected_account: Account, dialect: str
) -> None:
    orders = fx.account(connected_account.id).orders
    commented = CreateOrderRequest(symbol="EURUSD", type="BUY", volume=0.01, comment="mine")
    with anyio.fail_after(WAIT):
        named, marker = await submission_marker(orders, _BUY, "k")
        _, hidden = await submission_marker(orders, commented, "k")
    assert named == dialect
    assert (marker is None) == (dialect == "reference")
    assert hidden is None
