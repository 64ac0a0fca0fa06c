"""Input the client refuses before anything is sent.

Each refusal is a ``ValidationError`` with ``status is None`` and a message
saying what to do, and the simulator's request counters do not move.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

import anyio
import pytest

from fxsocket_async import REMOVE, AccountClient, AsyncFxSocket, FxSocketError, ValidationError
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account
from tests.helpers.routes import route
from tests.helpers.sim import PASSWORD, SERVER, WAIT, next_login

pytestmark = pytest.mark.anyio

PIP = 0.0001
NOW = datetime.now(UTC)
Call = Callable[[AccountClient], Awaitable[Any]]


async def refused(sim: Simulator, call: Callable[[], Awaitable[Any]], *, hint: str) -> None:
    """``call()`` raises a local ValidationError mentioning ``hint``; nothing reaches ``sim``."""
    before = (sim.stats.requests, dict(sim.stats.routes))
    with anyio.fail_after(WAIT), pytest.raises(FxSocketError) as info:
        await call()
    error = info.value
    assert type(error) is ValidationError, repr(error)
    assert error.status is None, repr(error)
    assert error.code, repr(error)
    assert hint.lower() in error.message.lower(), error.message
    assert (sim.stats.requests, dict(sim.stats.routes)) == before


async def _drain(iterator: Any) -> None:
    async for _ in iterator:
        pass


# --------------------------------------------------------------- create order

BAD_ORDERS: list[tuple[str, dict[str, Any], str]] = [
    # (id, create(**kwargs) overrides, hint in the message)
    ("type-unknown", {"type": "MARKET"}, "use one of"),
    ("type-typo", {"type": "BUY_LIMT", "price": 1.0}, "use one of"),
    ("type-empty", {"type": ""}, "use one of"),
    ("type-none", {"type": None}, "use one of"),
    ("volume-0", {"volume": 0}, "above zero"),
    ("volume-0.0", {"volume": 0.0}, "above zero"),
    ("volume-negative", {"volume": -1}, "above zero"),
    ("volume-nan", {"volume": math.nan}, "finite"),
    ("volume-inf", {"volume": math.inf}, "finite"),
    ("volume--inf", {"volume": -math.inf}, "finite"),
    ("volume-str", {"volume": "0.1"}, "must be a number"),
    ("volume-true", {"volume": True}, "must be a number"),
    ("volume-none", {"volume": None}, "must be a number"),
    ("price-for-buy", {"price": 1.0}, "drop price="),
    ("price-for-sell", {"type": "SELL", "price": 1.0}, "drop price="),
    ("price-0-for-buy", {"price": 0}, "drop price="),
    ("price-nan", {"type": "BUY_LIMIT", "price": math.nan}, "finite"),
    ("price-inf", {"type": "SELL_STOP", "price": math.inf}, "finite"),
    ("price-negative", {"type": "BUY_STOP", "price": -1.1}, "above zero"),
    ("price-zero", {"type": "SELL_LIMIT", "price": 0.0}, "above zero"),
    ("price-str", {"type": "SELL_LIMIT", "price": "1.1"}, "must be a number"),
    ("sl-nan", {"sl": math.nan}, "finite"),
    ("sl-negative", {"sl": -1.0}, "above zero"),
    ("sl-zero", {"sl": 0}, "above zero"),
    ("sl-inf", {"sl": math.inf}, "finite"),
    ("tp-nan", {"tp": math.nan}, "finite"),
    ("tp-negative", {"tp": -0.5}, "above zero"),
    ("tp-inf", {"tp": math.inf}, "finite"),
    ("symbol-empty", {"symbol": ""}, "non-empty"),
    ("symbol-blank", {"symbol": "   "}, "non-empty"),
    ("idempotency-key-too-long", {"idempotency_key": "k" * 129}, "1 to 128"),
]


@pytest.mark.parametrize(
    ("overrides", "hint"), [c[1:] for c in BAD_ORDERS], ids=[c[0] for c in BAD_ORDERS]
)
async def test_create_refused_before_sending(
    fx: AsyncFxSocket,
    connected_account: Account,
    sim: Simulator,
    overrides: dict[str, Any],
    hint: str,
) -> None:
    args: dict[str, Any] = {"symbol": "EURUSD", "type": "BUY", "volume": 0.1, **overrides}
    orders = fx.account(connected_account.id).orders
    await refused(sim, lambda: orders.create(**args), hint=hint)


@pytest.mark.parametrize("kind", ["BUY_LIMIT", "SELL_LIMIT", "BUY_STOP", "SELL_STOP"])
async def test_pending_order_needs_a_price(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator, kind: str
) -> None:
    orders = fx.account(connected_account.id).orders
    await refused(sim, lambda: orders.create("EURUSD", kind, 0.1), hint="needs price=")


async def test_refused_on_the_bare_form_and_unknown_accounts_too(
    fx: AsyncFxSocket, sim: Simulator
) -> None:
    for client in (fx.account(), fx.account("no-such-account")):
        await refused(sim, partial(client.orders.create, "EURUSD", "BUY", 0), hint="above zero")
        await refused(sim, partial(client.candles, "EURUSD", "M7"), hint="use one of")


@pytest.mark.parametrize(
    ("given", "sent"),
    [("buy", "BUY"), ("sell", "SELL"), ("Buy", "BUY"), ("sElL", "SELL")],
)
async def test_lower_case_market_type_is_sent_upper_case(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator, given: str, sent: str
) -> None:
    with anyio.fail_after(WAIT):
        order = await fx.account(connected_account.id).orders.create("EURUSD", given, 0.1)
    # The simulator accepts only the canonical upper-case types.
    assert (order.type, order.status) == (sent, "filled")
    assert sim.stats.routes[route("create")] == 1


async def test_lower_case_pending_type_is_sent_upper_case(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    price = round(sim.price("EURUSD").ask - 30 * PIP, 5)
    with anyio.fail_after(WAIT):
        order = await fx.account(connected_account.id).orders.create(
            "EURUSD", "buy_limit", 0.1, price=price
        )
        (pending,) = await fx.account(connected_account.id).orders.pending()
    assert (order.type, order.status) == ("BUY_LIMIT", "pending")
    assert pending.type == "BUY_LIMIT"


# --------------------------------------------------------------- modify order

BAD_MODIFIES: list[tuple[str, dict[str, Any], str]] = [
    ("sl-0", {"sl": 0}, "sl=REMOVE"),
    ("sl-0.0", {"sl": 0.0}, "sl=REMOVE"),
    ("tp-0", {"tp": 0}, "tp=REMOVE"),
    ("sl-0-with-tp", {"sl": 0, "tp": 1.2}, "REMOVE"),
    ("nothing", {}, "at least one of"),
    ("all-none", {"sl": None, "tp": None, "price": None}, "at least one of"),
    ("sl-nan", {"sl": math.nan}, "finite"),
    ("tp-inf", {"tp": math.inf}, "finite"),
    ("sl-negative", {"sl": -1.0}, "above zero"),
    ("price-0", {"price": 0}, "above zero"),
    ("price-negative", {"price": -1.0}, "above zero"),
    ("price-nan", {"price": math.nan}, "finite"),
    ("price-remove", {"price": REMOVE}, "must be a number"),
    ("sl-str", {"sl": "1.1"}, "must be a number"),
    ("sl-false", {"sl": False}, "must be a number"),
]


@pytest.mark.parametrize(
    ("kwargs", "hint"), [c[1:] for c in BAD_MODIFIES], ids=[c[0] for c in BAD_MODIFIES]
)
async def test_modify_refused_before_sending(
    fx: AsyncFxSocket,
    connected_account: Account,
    sim: Simulator,
    kwargs: dict[str, Any],
    hint: str,
) -> None:
    orders = fx.account(connected_account.id).orders
    with anyio.fail_after(WAIT):
        order = await orders.create("EURUSD", "BUY", 0.1, sl=1.0, tp=2.0)
    await refused(sim, lambda: orders.modify(order.id, **kwargs), hint=hint)
    with anyio.fail_after(WAIT):
        (position,) = await fx.account(connected_account.id).positions()
    assert (position.sl, position.tp) == (1.0, 2.0)  # untouched


# --------------------------------------------------------------- market data

BAD_MARKET_DATA: list[tuple[str, Call, str]] = [
    ("quote-empty-symbol", lambda a: a.quote(""), "non-empty"),
    ("candles-empty-symbol", lambda a: a.candles("", "M1"), "non-empty"),
    ("candles-unknown-timeframe", lambda a: a.candles("EURUSD", "M2"), "use one of"),
    ("candles-empty-timeframe", lambda a: a.candles("EURUSD", ""), "use one of"),
    (
        "candles-start-after-end",
        lambda a: a.candles("EURUSD", "M1", start=NOW, end=NOW - timedelta(minutes=1)),
        "swap",
    ),
    (
        "candles-start-after-end-mixed-zones",
        # 11:00+03:00 reads later than 10:00Z on the wall clock but is 08:00Z.
        lambda a: a.candles(
            "EURUSD",
            "M1",
            start=datetime(2025, 1, 1, 10, tzinfo=UTC),
            end=datetime(2025, 1, 1, 11, tzinfo=timezone(timedelta(hours=3))),
        ),
        "swap",
    ),
    (
        "candles-start-not-datetime",
        lambda a: a.candles("EURUSD", "M1", start="2025-01-01"),  # type: ignore[arg-type]
        "datetime",
    ),
    ("candles-limit-1001", lambda a: a.candles("EURUSD", "M1", limit=1001), "1 to 1000"),
    ("candles-limit-negative", lambda a: a.candles("EURUSD", "M1", limit=-5), "1 to 1000"),
    (
        "candles-range-limit-0",
        lambda a: a.candles("EURUSD", "M1", start=NOW - timedelta(hours=1), limit=0),
        "whole number",
    ),
    ("history-page-size-0", lambda a: _drain(a.history(page_size=0)), "1 to 1000"),
    ("history-page-size-1001", lambda a: _drain(a.history(page_size=1001)), "1 to 1000"),
    ("history-page-size-true", lambda a: _drain(a.history(page_size=True)), "1 to 1000"),
    (
        "history-start-after-end",
        lambda a: _drain(a.history(start=NOW, end=NOW - timedelta(days=1))),
        "swap",
    ),
]


@pytest.mark.parametrize(
    ("call", "hint"), [c[1:] for c in BAD_MARKET_DATA], ids=[c[0] for c in BAD_MARKET_DATA]
)
async def test_market_data_refused_before_sending(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator, call: Call, hint: str
) -> None:
    account = fx.account(connected_account.id)
    await refused(sim, lambda: call(account), hint=hint)


async def test_candles_limit_0_without_start_is_refused(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    account = fx.account(connected_account.id)
    await refused(sim, lambda: account.candles("EURUSD", "M1", limit=0), hint="1 to 1000")


# ------------------------------------------------------------------- linking

BAD_LINKS: list[tuple[str, dict[str, Any], str]] = [
    ("login-0", {"login": 0}, "positive"),
    ("login-negative", {"login": -12}, "positive"),
    ("login-str", {"login": "123"}, "positive"),
    ("login-true", {"login": True}, "positive"),
    ("login-float", {"login": 123.0}, "positive"),
    ("password-empty", {"password": ""}, "password is required"),
    ("password-none", {"password": None}, "password is required"),
    ("server-empty", {"server": ""}, "server name"),
    ("server-blank", {"server": "  "}, "server name"),
]


@pytest.mark.parametrize(
    ("overrides", "hint"), [c[1:] for c in BAD_LINKS], ids=[c[0] for c in BAD_LINKS]
)
async def test_link_refused_before_sending(
    fx: AsyncFxSocket, sim: Simulator, overrides: dict[str, Any], hint: str
) -> None:
    args: dict[str, Any] = {"server": SERVER, "login": next_login(), "password": PASSWORD}
    args.update(overrides)
    await refused(sim, lambda: fx.accounts.link(**args), hint=hint)
    assert sim.accounts() == []


async def test_refusals_do_not_reveal_the_password(fx: AsyncFxSocket, sim: Simulator) -> None:
    with pytest.raises(ValidationError) as info:
        await fx.accounts.link(server=SERVER, login=0, password=PASSWORD)
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(info.value)
    assert sim.stats.requests == 0
