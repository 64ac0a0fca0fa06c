"""Every REST route through the public API of ``AsyncFxSocket``, against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, get_args

import aiohttp
import anyio
import msgspec
import pytest

import fxsocket_async
from fxsocket_async import (
    REMOVE,
    AccountClient,
    AccountRequiredError,
    AsyncFxSocket,
    NotFoundError,
    TerminalNotReadyError,
)
from fxsocket_async._core.models import CandlesReply
from fxsocket_async._rest.resource import Resource
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, Candle
from tests.helpers.dialects import is_terminal
from tests.helpers.routes import route
from tests.helpers.sim import (
    FULL_KEY,
    PASSWORD,
    SERVER,
    WAIT,
    link,
    make_client,
    next_login,
    sim_config,
)

pytestmark = pytest.mark.anyio

TIMEFRAMES: tuple[str, ...] = get_args(fxsocket_async.types.Timeframe)
FIXED_SECONDS = {"M1": 60, "M5": 300, "M15": 900, "M30": 1800, "H1": 3600, "H4": 14400}
PIP = 0.0001  # EURUSD

MANAGEMENT_ROUTES = {
    "GET /v1/accounts",
    "POST /v1/accounts",
    "GET /v1/accounts/{account_id}",
    "DELETE /v1/accounts/{account_id}",
}
ACCOUNT_ROUTES = {
    "GET {p}/account",
    "GET {p}/positions",
    "GET {p}/orders",
    "POST {p}/orders",
    "PATCH {p}/orders/{{order_id}}",
    "DELETE {p}/orders/{{order_id}}",
    "GET {p}/quotes/{{symbol}}",
    "GET {p}/candles/{{symbol}}",
    "GET {p}/history",
}


def routes(sim: Simulator) -> dict[str, int]:
    return dict(sim.stats.routes)


def trading(fx: AsyncFxSocket, account: Account) -> AccountClient:
    return fx.account(account.id)


# ------------------------------------------------------------------ accounts


async def test_link_list_get_unlink(fx: AsyncFxSocket, sim: Simulator) -> None:
    with anyio.fail_after(WAIT):
        login = next_login()
        linked = await fx.accounts.link(
            server=SERVER, login=login, password=PASSWORD, nickname="desk"
        )
        assert isinstance(linked, Account)
        assert linked.status == "connecting"
        assert (linked.server, linked.login, linked.nickname) == (SERVER, login, "desk")
        assert linked.id
        assert linked.error == ""

        listed = await fx.accounts.list()
        assert [a.id for a in listed] == [linked.id]
        assert all(isinstance(a, Account) for a in listed)

        got = await fx.accounts.get(linked.id)
        assert (got.id, got.server, got.login, got.nickname) == (linked.id, SERVER, login, "desk")

        unlinked = await fx.accounts.unlink(linked.id)  # type: ignore[func-returns-value]
        assert unlinked is None  # 204: nothing to return
        with pytest.raises(NotFoundError) as info:
            await fx.accounts.get(linked.id)
        assert info.value.status == 404
        assert await fx.accounts.list() == []
    assert routes(sim)["DELETE /v1/accounts/{account_id}"] == 1


async def test_link_result_never_shows_the_password(fx: AsyncFxSocket) -> None:
    with anyio.fail_after(WAIT):
        account = await link(fx, password=PASSWORD)
        listed = await fx.accounts.list()
        got = await fx.accounts.get(account.id)
    assert "password" not in Account.__struct_fields__
    for shown in (account, got, *listed, fx.accounts, fx, fx.account(account.id)):
        assert PASSWORD not in repr(shown)
        assert PASSWORD not in str(shown)
    assert PASSWORD.encode() not in msgspec.json.encode(account)


async def test_wait_connected_returns_the_connected_account(
    fx: AsyncFxSocket, connected_account: Account
) -> None:
    assert connected_account.status == "connected"
    with anyio.fail_after(WAIT):
        assert (await fx.accounts.get(connected_account.id)).status == "connected"


@pytest.mark.dialects("reference", "terminal", "auto")
async def test_terminal_not_ready_while_connecting(dialect: str) -> None:
    with anyio.fail_after(WAIT):
        async with (
            Simulator(sim_config(provision_delay=600)) as slow,
            make_client(slow) as fx,
        ):
            account = await link(fx)
            assert account.status == "connecting"
            before = dict(routes(slow))
            with pytest.raises(TerminalNotReadyError) as info:
                await fx.account(account.id).summary()
            assert (info.value.status, info.value.code) == (503, "terminal_not_ready")
            # A state, not a fault: it is not retried. A provisioning account has no
            # terminal yet: "auto" asks the reference route, "terminal" asks nothing.
            after = routes(slow)
            asked = route("summary", "reference")
            expected = 0 if dialect == "terminal" else 1
            assert after.get(asked, 0) - before.get(asked, 0) == expected
            await fx.accounts.unlink(account.id)


# ------------------------------------------------------------- account data


async def test_summary(fx: AsyncFxSocket, connected_account: Account) -> None:
    with anyio.fail_after(WAIT):
        summary = await trading(fx, connected_account).summary()
    assert isinstance(summary, fxsocket_async.types.AccountSummary)
    assert summary.balance == 10_000.0
    assert summary.equity == 10_000.0
    assert summary.margin == 0.0
    assert summary.free_margin == 10_000.0
    assert summary.currency == "USD"


async def test_positions(fx: AsyncFxSocket, connected_account: Account, sim: Simulator) -> None:
    account = trading(fx, connected_account)
    with anyio.fail_after(WAIT):
        assert await account.positions() == []
        order = await account.orders.create("EURUSD", "BUY", 0.1)
        positions = await account.positions()
    assert len(positions) == 1
    position = positions[0]
    assert isinstance(position, fxsocket_async.types.Position)
    assert (position.id, position.symbol, position.type) == (order.id, "EURUSD", "BUY")
    assert position.volume == 0.1
    assert position.open_price == order.price == sim.price("EURUSD").ask


async def test_quote_by_account_id(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    with anyio.fail_after(WAIT):
        for symbol in ("EURUSD", "XAUUSD"):
            quote = await trading(fx, connected_account).quote(symbol)
            expected = sim.price(symbol)
            assert isinstance(quote, fxsocket_async.types.Quote)
            assert (quote.symbol, quote.bid, quote.ask) == (symbol, expected.bid, expected.ask)
            assert quote.ask >= quote.bid
    assert routes(sim)[route("quote")] == 2


async def test_quote_follows_set_price(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    sim.set_price("EURUSD", 1.2, 1.20012)
    with anyio.fail_after(WAIT):
        quote = await trading(fx, connected_account).quote("EURUSD")
    assert (quote.bid, quote.ask) == (1.2, 1.20012)


async def test_bare_account_form_uses_the_only_account(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    bare = fx.account()
    assert bare.account_id is None
    with anyio.fail_after(WAIT):
        quote = await bare.quote("EURUSD")
        summary = await bare.summary()
        order = await bare.orders.create("EURUSD", "BUY", 0.1)
        positions = await bare.positions()
        closed = await bare.orders.close(order.id)
        trades = [t async for t in bare.history()]
    expected = sim.price("EURUSD")
    assert (quote.bid, quote.ask) == (expected.bid, expected.ask)
    assert summary.id == connected_account.id
    assert [p.id for p in positions] == [order.id]
    assert closed.status == "closed"
    assert [t.id for t in trades] == [order.id]
    seen = routes(sim)
    assert seen["GET /v1/quotes/{symbol}"] == 1
    assert seen["GET /v1/account"] == 1
    assert seen["POST /v1/orders"] == 1
    assert "GET /v1/accounts/{account_id}/quotes/{symbol}" not in seen


async def test_bare_account_form_with_two_accounts_needs_an_id(
    fx: AsyncFxSocket, connected_account: Account
) -> None:
    with anyio.fail_after(WAIT):
        await link(fx, connected=True)
        with pytest.raises(AccountRequiredError) as info:
            await fx.account().quote("EURUSD")
        assert (info.value.status, info.value.code) == (400, "account_required")
        with pytest.raises(AccountRequiredError):
            await fx.account().summary()
        # The explicit form still works.
        assert (await fx.account(connected_account.id).quote("EURUSD")).symbol == "EURUSD"


# ------------------------------------------------------------------- orders


@pytest.mark.parametrize(("side", "field"), [("BUY", "ask"), ("SELL", "bid")])
async def test_market_order_fills_at_ask_or_bid(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator, side: str, field: str
) -> None:
    expected = getattr(sim.price("EURUSD"), field)
    with anyio.fail_after(WAIT):
        order = await trading(fx, connected_account).orders.create(
            "EURUSD", side, 0.1, comment="t1"
        )
    assert isinstance(order, fxsocket_async.types.OrderReply)
    assert order.id
    assert (order.symbol, order.type, order.status) == ("EURUSD", side, "filled")
    assert order.volume == 0.1
    assert order.price == expected
    assert order.comment == "t1"


async def test_market_order_with_sl_tp(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    ask = sim.price("EURUSD").ask
    sl, tp = round(ask - 50 * PIP, 5), round(ask + 50 * PIP, 5)
    with anyio.fail_after(WAIT):
        order = await trading(fx, connected_account).orders.create(
            "EURUSD", "BUY", 0.1, sl=sl, tp=tp
        )
        (position,) = await trading(fx, connected_account).positions()
    assert (order.sl, order.tp) == (sl, tp)
    assert (position.sl, position.tp) == (sl, tp)


def _pending_setup(kind: str, bid: float, ask: float) -> tuple[float, float, float]:
    """(order price, fill bid, fill ask) for a pending order of ``kind``."""
    if kind == "BUY_LIMIT":  # fills when ask <= price
        price = round(ask - 30 * PIP, 5)
        return price, round(price - 2 * PIP, 5), round(price - PIP, 5)
    if kind == "SELL_LIMIT":  # bid >= price
        price = round(bid + 30 * PIP, 5)
        return price, round(price + PIP, 5), round(price + 2 * PIP, 5)
    if kind == "BUY_STOP":  # ask >= price
        price = round(ask + 30 * PIP, 5)
        return price, round(price, 5), round(price + PIP, 5)
    price = round(bid - 30 * PIP, 5)  # SELL_STOP: bid <= price
    return price, round(price - PIP, 5), round(price, 5)


@pytest.mark.parametrize("kind", ["BUY_LIMIT", "SELL_LIMIT", "BUY_STOP", "SELL_STOP"])
async def test_pending_order_rests_then_fills(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator, kind: str
) -> None:
    account = trading(fx, connected_account)
    quote = sim.price("EURUSD")
    price, fill_bid, fill_ask = _pending_setup(kind, quote.bid, quote.ask)
    with anyio.fail_after(WAIT):
        order = await account.orders.create("EURUSD", kind, 0.1, price=price)
        assert (order.type, order.status, order.price) == (kind, "pending", price)
        pending = await account.orders.pending()
        assert [(o.id, o.type, o.price, o.status) for o in pending] == [
            (order.id, kind, price, "pending")
        ]
        assert await account.positions() == []

        sim.set_price("EURUSD", fill_bid, fill_ask)

        assert await account.orders.pending() == []
        positions = await account.positions()
    assert [(p.id, p.type, p.open_price) for p in positions] == [
        (order.id, kind.split("_")[0], price)
    ]


async def test_modify_position_sl_tp_and_remove(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    account = trading(fx, connected_account)
    with anyio.fail_after(WAIT):
        order = await account.orders.create("EURUSD", "BUY", 0.1)
        sl, tp = round(order.price - 40 * PIP, 5), round(order.price + 40 * PIP, 5)

        reply = await account.orders.modify(order.id, sl=sl, tp=tp)
        assert isinstance(reply, fxsocket_async.types.ModifyOrderReply)
        assert (reply.id, reply.sl, reply.tp, reply.updated) == (order.id, sl, tp, True)
        (position,) = await account.positions()
        assert (position.sl, position.tp) == (sl, tp)

        # None keeps a value: only the SL moves.
        new_sl = round(sl + 10 * PIP, 5)
        reply = await account.orders.modify(order.id, sl=new_sl)
        assert (reply.sl, reply.tp) == (new_sl, tp)

        reply = await account.orders.modify(order.id, sl=REMOVE)
        assert (reply.sl, reply.tp) == (None, tp)
        (position,) = await account.positions()
        assert (position.sl, position.tp) == (None, tp)

        reply = await account.orders.modify(order.id, tp=REMOVE)
        assert (reply.sl, reply.tp) == (None, None)
        (position,) = await account.positions()
        assert (position.sl, position.tp) == (None, None)
    assert routes(sim)[route("modify")] == 4


async def test_modify_pending_price(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    account = trading(fx, connected_account)
    ask = sim.price("EURUSD").ask
    price = round(ask - 30 * PIP, 5)
    with anyio.fail_after(WAIT):
        order = await account.orders.create("EURUSD", "BUY_LIMIT", 0.1, price=price)
        moved = round(price - 10 * PIP, 5)
        sl = round(moved - 20 * PIP, 5)
        reply = await account.orders.modify(order.id, price=moved, sl=sl)
        assert (reply.price, reply.sl, reply.tp) == (moved, sl, None)
        (pending,) = await account.orders.pending()
    assert (pending.id, pending.price, pending.sl) == (order.id, moved, sl)


@pytest.mark.parametrize(("side", "volume"), [("BUY", 0.1), ("SELL", 0.2)])
async def test_close_position_books_profit(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator, side: str, volume: float
) -> None:
    account = trading(fx, connected_account)
    with anyio.fail_after(WAIT):
        order = await account.orders.create("EURUSD", side, volume)
        # Move 10 pips in the position's favour.
        move = 10 * PIP if side == "BUY" else -10 * PIP
        quote = sim.price("EURUSD")
        moved = sim.set_price("EURUSD", round(quote.bid + move, 5), round(quote.ask + move, 5))
        closed = await account.orders.close(order.id)
        summary = await account.summary()
        history = [t async for t in account.history()]
    assert isinstance(closed, fxsocket_async.types.CloseOrderReply)
    assert (closed.id, closed.status) == (order.id, "closed")
    close_price = moved.bid if side == "BUY" else moved.ask
    assert closed.close_price == close_price
    direction = 1 if side == "BUY" else -1
    expected = (close_price - order.price) * direction * volume * 100_000
    assert closed.profit == pytest.approx(expected, abs=0.01)
    assert closed.profit > 0
    assert await account.positions() == []
    (trade,) = history
    assert (trade.id, trade.type, trade.status, trade.profit) == (
        order.id,
        side,
        "closed",
        closed.profit,
    )
    assert summary.balance == pytest.approx(10_000 + closed.profit + trade.commission + trade.swap)


async def test_close_pending_order_cancels_it(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    account = trading(fx, connected_account)
    price = round(sim.price("EURUSD").bid + 30 * PIP, 5)
    with anyio.fail_after(WAIT):
        order = await account.orders.create("EURUSD", "SELL_LIMIT", 0.1, price=price)
        cancelled = await account.orders.close(order.id)
        assert (cancelled.id, cancelled.status, cancelled.profit) == (order.id, "cancelled", 0.0)
        assert await account.orders.pending() == []
        assert await account.positions() == []
        trades = [t async for t in account.history()]
    if is_terminal():
        assert trades == []  # a terminal's history lists closed positions only
    else:
        assert [(t.id, t.status) for t in trades] == [(order.id, "cancelled")]


# ------------------------------------------------------------------ candles


def _next_bar(timeframe: str, t: datetime) -> datetime:
    if timeframe == "MN":
        return t.replace(year=t.year + t.month // 12, month=t.month % 12 + 1)
    if timeframe == "W1":
        return t + timedelta(days=7)
    if timeframe == "D1":
        return t + timedelta(days=1)
    return t + timedelta(seconds=FIXED_SECONDS[timeframe])


def _previous_bar(timeframe: str, t: datetime) -> datetime:
    if timeframe == "MN":
        return t.replace(year=t.year - (t.month == 1), month=(t.month - 2) % 12 + 1)
    return t - (_next_bar(timeframe, t) - t)


def _aligned(timeframe: str, t: datetime) -> bool:
    if timeframe == "MN":
        return (t.day, t.hour, t.minute, t.second) == (1, 0, 0, 0)
    if timeframe == "W1":
        return t.weekday() == 0 and (t.hour, t.minute, t.second) == (0, 0, 0)
    if timeframe == "D1":
        return (t.hour, t.minute, t.second) == (0, 0, 0)
    return t.timestamp() % FIXED_SECONDS[timeframe] == 0


def _check_bars(bars: list[Candle]) -> None:
    for bar in bars:
        assert isinstance(bar, Candle)
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.low > 0


def _past_end() -> datetime:
    """A minute well before the simulator started: its bars are deterministic backfill."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=40)


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
async def test_candles_range_for_every_timeframe(
    fx: AsyncFxSocket, connected_account: Account, timeframe: str
) -> None:
    end = _past_end()
    start = end
    for _ in range(12):
        start = _previous_bar(timeframe, start)
    start += timedelta(seconds=30)  # not aligned: the first bar is the next aligned one
    with anyio.fail_after(WAIT):
        bars = await trading(fx, connected_account).candles(
            "EURUSD", timeframe, start=start, end=end
        )
    assert bars
    _check_bars(bars)
    times = [b.time for b in bars]
    assert all(_aligned(timeframe, t) for t in times), times
    assert times[0] >= start > _previous_bar(timeframe, times[0])
    assert times[-1] <= end < _next_bar(timeframe, times[-1])
    for earlier, later in pairwise(times):
        assert later == _next_bar(timeframe, earlier)
    assert 11 <= len(bars) <= 13


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
async def test_candles_last_n_for_every_timeframe(
    fx: AsyncFxSocket, connected_account: Account, timeframe: str
) -> None:
    with anyio.fail_after(WAIT):
        bars = await trading(fx, connected_account).candles("EURUSD", timeframe, limit=5)
    assert len(bars) == 5
    _check_bars(bars)
    times = [b.time for b in bars]
    assert times == sorted(set(times))
    assert all(_aligned(timeframe, t) for t in times), times
    # The newest bars: the last is the bar now falls in (or the one before, across a
    # bar boundary), not a page from the start of some earlier range.
    now = datetime.now(UTC)
    assert times[-1] <= now
    if timeframe in FIXED_SECONDS:
        assert now - times[-1] < timedelta(seconds=2 * FIXED_SECONDS[timeframe]), times


async def test_candles_without_start_end_before_now(
    fx: AsyncFxSocket, connected_account: Account
) -> None:
    end = _past_end()
    with anyio.fail_after(WAIT):
        bars = await trading(fx, connected_account).candles("EURUSD", "H1", end=end, limit=24)
    times = [b.time for b in bars]
    assert len(times) == 24
    assert times[-1] == end.replace(minute=0)
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(times))


async def test_candles_default_is_one_full_reply(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    with anyio.fail_after(WAIT):
        bars = await trading(fx, connected_account).candles("EURUSD", "H1")
    assert len(bars) == 1000
    assert [b.time for b in bars] == sorted({b.time for b in bars})
    assert routes(sim)[route("candles")] == 1


async def _page_directly(
    sim: Simulator, account_id: str, timeframe: str, start: datetime, end: datetime
) -> list[Candle]:
    """Page the simulator's candles route with plain HTTP, one reply limit at a time."""
    url = f"{sim.base_url}/v1/accounts/{account_id}/candles/EURUSD"
    headers = {"Authorization": f"Bearer {FULL_KEY}"}
    bars: list[Candle] = []
    cursor = start
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            params = {
                "timeframe": timeframe,
                "from": cursor.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "to": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "limit": "1000",
            }
            async with http.get(url, params=params, headers=headers) as response:
                assert response.status == 200, await response.text()
                page = msgspec.json.decode(await response.read(), type=CandlesReply).candles
            bars.extend(page)
            if len(page) < 1000:
                return bars
            cursor = page[-1].time + timedelta(seconds=1)
    raise AssertionError("more than 100 pages")


async def test_candles_long_range_is_split_without_gaps_or_duplicates(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)
    start = end - timedelta(days=3)
    with anyio.fail_after(WAIT):
        bars = await trading(fx, connected_account).candles("EURUSD", "M1", start=start, end=end)
        requests = routes(sim)[route("candles")]
        direct = await _page_directly(sim, connected_account.id, "M1", start, end)
    assert len(bars) == 3 * 1440 + 1
    assert requests > 1  # one reply holds at most 1000 bars
    times = [b.time for b in bars]
    assert times[0] == start
    assert times[-1] == end
    assert len(set(times)) == len(times)
    assert all(b - a == timedelta(minutes=1) for a, b in pairwise(times))
    _check_bars(bars)
    assert bars == direct


async def test_candles_long_range_of_hours(fx: AsyncFxSocket, connected_account: Account) -> None:
    end = _past_end().replace(minute=0)
    start = end - timedelta(days=100)  # 2,401 H1 bars
    with anyio.fail_after(WAIT):
        bars = await trading(fx, connected_account).candles("EURUSD", "H1", start=start, end=end)
    times = [b.time for b in bars]
    assert len(times) == 100 * 24 + 1
    assert (times[0], times[-1]) == (start, end)
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(times))


async def test_candles_range_reaching_now(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1500)
    with anyio.fail_after(WAIT):
        bars = await trading(fx, connected_account).candles("EURUSD", "M1", start=start)
    times = [b.time for b in bars]
    assert times[0] == start
    assert times == sorted(set(times))
    assert len(times) >= 1500
    assert times[-1] <= datetime.now(UTC)


async def test_candles_naive_start_without_end(
    fx: AsyncFxSocket, connected_account: Account
) -> None:
    start = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0) - timedelta(minutes=5)
    with anyio.fail_after(WAIT):
        bars = await trading(fx, connected_account).candles("EURUSD", "M1", start=start)
    assert bars
    assert bars[0].time.replace(tzinfo=None) == start


async def test_candles_naive_start_aware_end(fx: AsyncFxSocket, connected_account: Account) -> None:
    end = _past_end()
    start = end.replace(tzinfo=None) - timedelta(minutes=10)
    with anyio.fail_after(WAIT):
        bars = await trading(fx, connected_account).candles("EURUSD", "M1", start=start, end=end)
    assert len(bars) == 11


# ------------------------------------------------------------------ history


async def _closed_trades(account: AccountClient, count: int) -> list[tuple[str, str, str]]:
    """Open and close ``count`` positions; returns (id, symbol, type) in closing order."""
    done = []
    for i in range(count):
        symbol = "XAUUSD" if i % 5 == 0 else "EURUSD"
        side = "SELL" if i % 2 else "BUY"
        order = await account.orders.create(symbol, side, 0.01)
        closed = await account.orders.close(order.id)
        assert closed.status == "closed"
        done.append((order.id, symbol, side))
    return done


async def test_history_pages_every_trade_once_in_order(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    account = trading(fx, connected_account)
    progress: list[tuple[int, int]] = []
    with anyio.fail_after(WAIT):
        made = await _closed_trades(account, 25)
        before = routes(sim).get(route("history"), 0)
        pages = account.history(
            page_size=10, progress=lambda done, total: progress.append((done, total))
        )
        trades = [t async for t in pages]
    assert [t.id for t in trades] == [m[0] for m in made]
    assert [(t.symbol, t.type) for t in trades] == [(m[1], m[2]) for m in made]
    assert all(isinstance(t, fxsocket_async.types.Trade) and t.status == "closed" for t in trades)
    assert pages.total == 25
    assert progress == [(10, 25), (20, 25), (25, 25)]
    assert routes(sim)[route("history")] - before == 3
    closed_at = [t.closed_at for t in trades]
    assert all(a is not None and b is not None and a <= b for a, b in pairwise(closed_at))


async def test_history_filters(fx: AsyncFxSocket, connected_account: Account) -> None:
    account = trading(fx, connected_account)
    with anyio.fail_after(WAIT):
        made = await _closed_trades(account, 25)
        gold = [t.id async for t in account.history(symbol="XAUUSD", page_size=2)]
        sells = [t.id async for t in account.history(type="SELL", page_size=5)]
        both = [t.id async for t in account.history(symbol="EURUSD", type="BUY", page_size=3)]
    assert gold == [m[0] for m in made if m[1] == "XAUUSD"]
    assert len(gold) == 5
    assert sells == [m[0] for m in made if m[2] == "SELL"]
    assert both == [m[0] for m in made if m[1:] == ("EURUSD", "BUY")]


async def test_history_time_range(fx: AsyncFxSocket, connected_account: Account) -> None:
    account = trading(fx, connected_account)
    progress: list[tuple[int, int]] = []
    with anyio.fail_after(WAIT):
        made = await _closed_trades(account, 3)
        everything = [
            t async for t in account.history(start=datetime.now(UTC) - timedelta(hours=1))
        ]
        future = datetime.now(UTC) + timedelta(days=1)
        later = account.history(start=future, progress=lambda d, t: progress.append((d, t)))
        nothing = [t async for t in later]
        last = everything[-1].closed_at
        assert last is not None
        upto = [t.id async for t in account.history(end=last)]
    assert [t.id for t in everything] == [m[0] for m in made]
    assert nothing == []
    assert later.total == 0
    assert progress == [(0, 0)]
    assert upto == [m[0] for m in made]


async def test_history_page_is_one_page_with_the_total_and_checks_its_input(
    fx: AsyncFxSocket, connected_account: Account, sim: Simulator
) -> None:
    account = trading(fx, connected_account)
    with anyio.fail_after(WAIT):
        made = await _closed_trades(account, 7)
        page = await account.history_page(5, 3)
        gold = await account.history_page(symbol="XAUUSD", type="BUY")
        before = routes(sim).get(route("history"), 0)
        for bad in ({"offset": -1}, {"offset": 1.5}, {"limit": 0}, {"type": "LONG"}):
            with pytest.raises(fxsocket_async.ValidationError):
                await account.history_page(**bad)  # type: ignore[arg-type]
        assert routes(sim).get(route("history"), 0) == before  # refused before sending
    assert page.total == 7
    assert [t.id for t in page.trades] == [m[0] for m in made[5:]]
    assert [t.id for t in gold.trades] == [m[0] for m in made if m[1:] == ("XAUUSD", "BUY")]


async def test_history_empty(fx: AsyncFxSocket, connected_account: Account) -> None:
    with anyio.fail_after(WAIT):
        assert [t async for t in trading(fx, connected_account).history()] == []


# ------------------------------------------------------------- every route


@pytest.mark.dialects("reference")  # the terminal's tour: tests/client/test_terminal_api.py
async def test_every_route_is_reached(fx: AsyncFxSocket, sim: Simulator) -> None:
    """One tour of the public API touches every REST route of the simulator."""
    with anyio.fail_after(WAIT):
        account = await link(fx, connected=True)
        await fx.accounts.list()
        await fx.accounts.get(account.id)
        for client in (fx.account(account.id), fx.account()):
            await client.summary()
            await client.positions()
            await client.quote("EURUSD")
            await client.candles("EURUSD", "M5", limit=3)
            order = await client.orders.create("EURUSD", "BUY", 0.1)
            await client.orders.modify(order.id, tp=round(order.price + 0.01, 5))
            await client.orders.pending()
            await client.orders.close(order.id)
            assert [t.id async for t in client.history()][-1] == order.id
        await fx.accounts.unlink(account.id)
    expected = set(MANAGEMENT_ROUTES)
    for prefix in ("/v1/accounts/{account_id}", "/v1"):
        expected |= {route.format(p=prefix) for route in ACCOUNT_ROUTES}
    assert len(expected) == 22
    assert expected <= set(routes(sim))


@pytest.mark.dialects("reference")
async def test_a_pending_order_filling_between_the_two_reads_of_open_orders_is_its_position(
    fx: AsyncFxSocket,
    connected_account: Account,
    sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reference dialect reads pending orders and positions apart. A fill landing
    # between the reads must not make the order vanish from both (recovery would call
    # it cancelled). The race is forced by running the fill right after the first read.
    account = trading(fx, connected_account)
    sim.set_price("EURUSD", 1.1000, 1.1002)
    with anyio.fail_after(WAIT):
        order = await account.orders.create("EURUSD", "BUY_LIMIT", 0.1, price=1.0950)
    original = Resource._run
    reads: list[int] = []

    async def read_then_fill(self: Resource, make: Any, attempts: Any = None) -> Any:
        result = await original(self, make, attempts)
        if not reads:
            reads.append(1)
            sim.set_price("EURUSD", 1.0945, 1.0947)  # the limit fills now
        return result

    monkeypatch.setattr(Resource, "_run", read_then_fill)
    with anyio.fail_after(WAIT):
        positions, pending = await account.open_orders()
    assert [p.id for p in positions] == [order.id]
    assert pending == []
