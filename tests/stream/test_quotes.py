"""Quote delivery through ``fx.quotes(...)`` against the simulator, over 127.0.0.1.

The simulator's market is still, so every quote is one a test pushed with
``sim.set_price``. Pushes are synchronous on the simulator's side but reach
the client over the socket later: a test that needs "everything has arrived"
pushes a last, recognisable price (a sentinel) and waits until a consumer
that reads everything has seen it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import anyio
import pytest

from fxsocket_async import AsyncFxSocket, ConsumerOverflowError, QuoteSubscription
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, Quote

from .conftest import WAIT, link

pytestmark = pytest.mark.anyio

#: Each symbol's prices are ``base + i * step``: distinct and rounded exactly.
BASE = {"EURUSD": 1.0, "GBPUSD": 1.3, "XAUUSD": 2000.0, "USDJPY": 140.0}
STEP = {"EURUSD": 1e-5, "GBPUSD": 1e-5, "XAUUSD": 0.01, "USDJPY": 0.001}
SENTINEL_BID = 2.0  # EURUSD, far above any BASE + i * STEP a test pushes


def wire(quotes: Iterable[Quote]) -> list[tuple[str, float, float, object]]:
    """What a stream quote carries (a REST quote also has a spread)."""
    return [(q.symbol, q.bid, q.ask, q.time) for q in quotes]


def push(sim: Simulator, symbol: str, i: int) -> Quote:
    return sim.set_price(symbol, BASE[symbol] + i * STEP[symbol])


async def read(sub: QuoteSubscription, count: int) -> list[Quote]:
    with anyio.fail_after(WAIT):
        return [await anext(sub) for _ in range(count)]


async def read_until_sentinel(sub: QuoteSubscription, at_most: int) -> list[Quote]:
    """Everything ``sub`` delivers up to and including the EURUSD sentinel price."""
    got = []
    with anyio.fail_after(WAIT):
        for _ in range(at_most):
            got.append(await anext(sub))
            if got[-1].symbol == "EURUSD" and got[-1].bid == SENTINEL_BID:
                return got
    raise AssertionError(f"no sentinel within {at_most} quotes: {got[-3:]}")


async def test_many_consumers_each_see_every_quote_in_order(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    n, consumers = 200, 10
    got: list[list[Quote]] = [[] for _ in range(consumers)]

    async def consume(sub: QuoteSubscription, out: list[Quote]) -> None:
        for _ in range(n):
            out.append(await anext(sub))

    async with contextlib.AsyncExitStack() as stack:
        subs = [
            await stack.enter_async_context(fx.quotes("EURUSD", account=account.id, mode="all"))
            for _ in range(consumers)
        ]
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                for sub, out in zip(subs, got, strict=True):
                    tg.start_soon(consume, sub, out)
                sent = [push(sim, "EURUSD", i) for i in range(n)]
        for sub in subs:
            stats = sub.stats()
            assert (stats.delivered, stats.conflated, stats.dropped, stats.depth) == (n, 0, 0, 0)

    assert len({q.bid for q in sent}) == n
    for out in got:
        assert wire(out) == wire(sent)


async def test_a_slow_consumer_is_conflated_while_a_fast_one_misses_nothing(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    n, chunk, capacity = 5000, 50, 64
    symbols = ("EURUSD", "GBPUSD")
    read_one, release = anyio.Event(), anyio.Event()
    slow_got: list[Quote] = []
    slow_depths: list[int] = []

    async with (
        fx.quotes(*symbols, account=account.id, buffer=capacity) as slow,  # conflate
        fx.quotes(*symbols, account=account.id, mode="all") as fast,  # every tick
    ):

        async def slow_consumer() -> None:
            slow_got.append(await anext(slow))
            read_one.set()
            await release.wait()
            for _ in symbols:  # what waits for it now: the newest quote of each symbol
                slow_got.append(await anext(slow))

        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(slow_consumer)
                first = push(sim, "EURUSD", 0)
                assert wire(await read(fast, 1)) == wire([first])
                await read_one.wait()  # the slow consumer is now stuck on `release`
                # The fast consumer reads each chunk as it arrives: it keeps up.
                sent, fast_got = [first], [first]
                for start in range(1, n + 1, chunk):
                    pushed = [push(sim, symbols[i % 2], i) for i in range(start, start + chunk)]
                    fast_got += await read(fast, chunk)
                    sent += pushed
                    slow_depths.append(slow.stats().depth)
                # The fast consumer has read the last quote pushed: all have arrived.
                lagging = slow.stats()
                newest = {s: sim.price(s) for s in symbols}
                release.set()

        # The fast consumer beside it missed nothing, in order.
        assert wire(fast_got) == wire(sent)
        assert len(sent) == n + 1
        assert fast.stats().conflated == 0
        # The slow one: one quote per symbol at most, every skipped quote counted...
        assert max(slow_depths) <= len(symbols)
        assert lagging.depth == len(symbols)
        assert lagging.conflated == n - len(symbols)
        assert lagging.dropped == 0
        # ...and after release it reads the newest price of each symbol, nothing stale.
        assert wire(slow_got[:1]) == wire([first])
        after_release = {q.symbol: q for q in slow_got[1:]}
        assert sorted(after_release) == sorted(symbols)
        for symbol in symbols:
            assert wire([after_release[symbol]]) == wire([newest[symbol]])
        assert sorted(wire(newest.values())) == sorted(wire(sent[-2:]))
        assert slow.stats().depth == 0
        assert fx.stats()["stream"].conflated == lagging.conflated


async def test_an_always_ready_collector_is_not_overflowed_by_a_burst(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    n = 9000  # below the simulator's 10,000-frame outgoing limit
    got: list[Quote] = []
    async with fx.quotes("EURUSD", account=account.id, mode="all") as quotes:
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_collect_until_sentinel, quotes, got, n + 1)
                await anyio.wait_all_tasks_blocked()  # it waits in anext, ready
                sent = [push(sim, "EURUSD", i) for i in range(n)]
                sentinel = sim.set_price("EURUSD", SENTINEL_BID)
        assert (quotes.stats().conflated, quotes.stats().dropped) == (0, 0)
        assert wire(got) == wire([*sent, sentinel])


async def test_a_ready_collector_with_a_small_buffer_is_not_overflowed_by_a_burst(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    n = 5000
    got: list[Quote] = []
    async with fx.quotes("EURUSD", account=account.id, mode="all", buffer=16) as quotes:
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_collect_until_sentinel, quotes, got, n + 1)
                await anyio.wait_all_tasks_blocked()
                sent = [push(sim, "EURUSD", i) for i in range(n)]
                sentinel = sim.set_price("EURUSD", SENTINEL_BID)
        assert quotes.stats().dropped == 0
        assert wire(got) == wire([*sent, sentinel])


async def test_a_burst_reaches_a_conflating_consumer_as_its_newest_prices(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    n = 5000
    got: list[Quote] = []
    async with fx.quotes("EURUSD", account=account.id) as quotes:  # the default: conflate
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_collect_until_sentinel, quotes, got, n + 1)
                await anyio.wait_all_tasks_blocked()
                for i in range(n):
                    push(sim, "EURUSD", i)
                sentinel = sim.set_price("EURUSD", SENTINEL_BID)
        stats = quotes.stats()
    # Never behind: each read was the newest price that had arrived, so they only rise,
    # and the last is the last one sent; every quote is read or counted as replaced.
    bids = [q.bid for q in got]
    assert bids == sorted(set(bids))
    assert wire(got[-1:]) == wire([sentinel])
    assert stats.delivered + stats.conflated == n + 1
    assert stats.conflated > 0  # a burst of 5,000 is read in far fewer wake-ups


async def test_a_consumer_that_keeps_up_sees_every_quote_in_conflate_mode(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    async with fx.quotes("EURUSD", "GBPUSD", account=account.id) as quotes:
        sent, got = [], []
        for i in range(60):
            sent.append(push(sim, ("EURUSD", "GBPUSD")[i % 2], i))
            got += await read(quotes, 1)  # read before the next one is sent
        assert wire(got) == wire(sent)
        assert quotes.stats().conflated == 0


async def _collect_until_sentinel(sub: QuoteSubscription, out: list[Quote], at_most: int) -> None:
    for _ in range(at_most):
        out.append(await anext(sub))
        if out[-1].bid == SENTINEL_BID:
            return


async def test_a_slow_consumer_reads_on_in_order_once_caught_up(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    async with (
        fx.quotes("EURUSD", account=account.id) as slow,
        fx.quotes("EURUSD", account=account.id, mode="all") as fast,
    ):
        for i in range(50):
            push(sim, "EURUSD", i)
        sentinel = sim.set_price("EURUSD", SENTINEL_BID)
        await read_until_sentinel(fast, 52)
        assert wire(await read(slow, 1)) == wire([sentinel])  # conflated to the newest
        assert slow.stats().conflated == 50

        for i in range(5):  # caught up: it sees every quote it keeps up with
            later = push(sim, "EURUSD", 100 + i)
            assert wire(await read(slow, 1)) == wire([later])
            assert wire(await read(fast, 1)) == wire([later])
        assert slow.stats().conflated == 50


async def test_mode_all_overflow_ends_that_consumer_while_others_continue(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    async with (
        fx.quotes("EURUSD", account=account.id, mode="all", buffer=4) as blocked,
        fx.quotes("EURUSD", account=account.id, mode="all", buffer=1024) as other,
        fx.quotes("EURUSD", account=account.id) as conflating,
    ):
        sent = [push(sim, "EURUSD", i) for i in range(20)]
        assert wire(await read(other, 20)) == wire(sent)
        assert wire(await read(conflating, 1)) == wire(sent[-1:])  # the newest, the rest replaced
        assert conflating.stats().conflated == 19
        assert blocked.stats().dropped == 16  # 20 pushed, 4 fit

        with anyio.fail_after(WAIT), pytest.raises(ConsumerOverflowError) as caught:
            await anext(blocked)
        assert caught.value.code == "consumer_overflow"

        # The others and the connection carry on.
        more = push(sim, "EURUSD", 20)
        assert wire(await read(other, 1)) == wire([more])
        assert wire(await read(conflating, 1)) == wire([more])
        assert other.stats().dropped == 0
        assert fx.stats()["stream"].connected
        with anyio.fail_after(WAIT), pytest.raises(ConsumerOverflowError):
            await anext(blocked)  # it stays ended


async def test_batches_cover_every_quote_exactly_once(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    n, chunk = 1000, 100
    symbols = ("EURUSD", "GBPUSD")
    batches: list[list[Quote]] = []

    async with fx.quotes(*symbols, account=account.id, mode="all") as quotes:

        async def collect() -> None:
            total = 0
            async for batch in quotes.batches():
                batches.append(batch)
                total += len(batch)
                if total >= n:
                    return

        sent: list[Quote] = []
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(collect)
                for start in range(0, n, chunk):
                    sent += [push(sim, symbols[i % 2], i) for i in range(start, start + chunk)]
                    await anyio.wait_all_tasks_blocked()  # let the collector drain
        stats = quotes.stats()

    assert all(batches)
    assert wire([q for batch in batches for q in batch]) == wire(sent)
    assert (stats.delivered, stats.conflated, stats.depth) == (n, 0, 0)


async def test_one_subscription_carries_several_symbols_and_only_those(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    wanted = ("EURUSD", "GBPUSD", "XAUUSD")
    async with fx.quotes(*wanted, "EURUSD", account=account.id, mode="all") as quotes:  # one
        assert quotes.symbols == list(wanted)
        frames = fx.stats()["stream"].frames
        expected = []
        for i in range(100):
            for symbol in (*wanted, "USDJPY"):
                q = push(sim, symbol, i)
                if symbol in wanted:
                    expected.append(q)
        sentinel = sim.set_price("EURUSD", SENTINEL_BID)
        got = await read_until_sentinel(quotes, 400)
        assert wire(got) == wire([*expected, sentinel])
        # The server sends only the subscribed symbols: one frame per quote read.
        assert fx.stats()["stream"].frames - frames == len(got)
        assert quotes.stats().depth == 0


async def test_two_accounts_on_one_symbol_each_get_their_own_quotes(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    with anyio.fail_after(WAIT):
        second = await link(fx, connected=True)
    n = 50
    async with (
        fx.quotes("EURUSD", account=account.id, mode="all") as first_quotes,
        fx.quotes("EURUSD", account=second.id, mode="all") as second_quotes,
        fx.quotes("EURUSD", account=account.id, mode="all") as first_again,
    ):
        frames = fx.stats()["stream"].frames
        sent = [push(sim, "EURUSD", i) for i in range(n)]
        sentinel = sim.set_price("EURUSD", SENTINEL_BID)
        for sub in (first_quotes, second_quotes, first_again):
            assert wire(await read_until_sentinel(sub, n + 1)) == wire([*sent, sentinel])
        # One frame per account per price: two consumers of one account share theirs.
        assert fx.stats()["stream"].frames - frames == 2 * (n + 1)
        for sub in (first_quotes, second_quotes, first_again):
            assert sub.stats().depth == 0
            assert sub.stats().delivered == n + 1
