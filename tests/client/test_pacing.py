"""Client-side pacing: many concurrent calls succeed without the server ever answering 429.

The issue asks that "1,000 concurrent quote() calls on one account all succeed
without the server ever answering 429". With the defaults on both sides (60/s,
client burst 30) that is (1000 - 30) / 60 = 16 s of pacing: these tests run it
on fake time. The client (``AsyncFxSocket(clock=...)``) and the simulator's rate
limiter (``Simulator(monotonic=clock.monotonic)``) share one ``FakeClock``,
which ``autojump`` moves to the next deadline only while no request is on the
wire, so the server judges every request at the fake time it was sent.

The server's own counters prove it: exactly one request per call, hence not a
single 429 (a 429 would have been retried and counted twice, or raised where
retries are off), and no retries on the client.
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import pytest

from fxsocket_async import RateLimit, RetryPolicy
from fxsocket_async.types import Account, Quote
from tests.helpers.routes import route
from tests.helpers.sim import FakeTimeSession, fake_time_session, sim_config

# Pacing is the same in both dialects: every test runs in each.
pytestmark = [pytest.mark.anyio, pytest.mark.dialects("reference", "terminal")]

#: The defaults on both sides: the client paces 60/s with bursts of 30, the server allows 60/s.
RATE = 60
BURST = RateLimit().burst
CALLS = 1_000
LIST = "GET /v1/accounts"
#: A 429 must not be hidden by a retry: fail loudly instead.
NO_RETRY = RetryPolicy(max_attempts=1)


def paced(
    *, server_limit: int = RATE, **options: Any
) -> contextlib.AbstractAsyncContextManager[FakeTimeSession]:
    """A simulator limiting ``server_limit``/s and a client, on one driven fake clock."""
    config = sim_config(rate_limit=server_limit, provision_delay=60)  # provisioned by hand
    return fake_time_session(config, **options)


async def test_thousand_concurrent_quotes_on_one_account_never_see_429() -> None:
    async with paced() as world:
        sim, fx = world.sim, world.fx
        account = await world.connected_account()
        before = sim.stats.routes[route("quote")]
        started = world.clock.monotonic()
        trading = fx.account(account.id)
        quotes: list[Quote] = []

        async def one() -> None:
            quotes.append(await trading.quote("EURUSD"))

        async with anyio.create_task_group() as tasks:
            for _ in range(CALLS):
                tasks.start_soon(one)
        assert len(quotes) == CALLS
        assert all(q.symbol == "EURUSD" for q in quotes)
        # Exactly one request per call reached the server: no 429 was ever answered.
        assert sim.stats.routes[route("quote")] - before == CALLS
        assert fx.stats()["retries"] == 0
        # And the pacer held back no more than it must: a burst, then one per interval.
        took = world.clock.monotonic() - started
        assert took == pytest.approx((CALLS - BURST) / RATE)


async def test_concurrent_quotes_without_retries_all_succeed() -> None:
    """The same property with retries off: a single 429 would raise RateLimitedError."""
    async with paced(retry=NO_RETRY) as world:
        account = await world.connected_account()
        trading = world.fx.account(account.id)
        done = 0

        async def one() -> None:
            nonlocal done
            await trading.quote("XAUUSD")
            done += 1

        async with anyio.create_task_group() as tasks:
            for _ in range(3 * RATE // 2):
                tasks.start_soon(one)
        assert done == 3 * RATE // 2


async def test_quotes_through_a_stalling_event_loop_never_see_429() -> None:
    """The user's loop blocks for 1.5 s every 3 s while 600 quotes wait for their slots.

    On fake time: 1.5 s pass at once with nothing running, so every call due
    meanwhile wakes late. A pacer that booked slots ahead would now send them
    all at once, past the server's bucket; a closed-loop one checks each send
    against what was really sent, and the server answers no 429.
    """
    async with paced(stall_every=3.0, stall_for=1.5) as world:
        sim, fx = world.sim, world.fx
        account = await world.connected_account()
        trading = fx.account(account.id)
        routes, requests = sim.stats.routes[route("quote")], fx.stats()["requests"]
        stalls = world.driver.stalls
        done = 0

        async def one() -> None:
            nonlocal done
            await trading.quote("EURUSD")
            done += 1

        async with anyio.create_task_group() as tasks:
            for _ in range(600):
                tasks.start_soon(one)
        assert done == 600
        assert world.driver.stalls - stalls >= 3  # the calls lived through several stalls
        # Exactly 600 requests for the 600 calls, on both sides: no 429, no retry.
        assert sim.stats.routes[route("quote")] - routes == 600
        assert fx.stats()["requests"] - requests == 600
        assert fx.stats()["retries"] == 0


async def test_accounts_have_separate_buckets() -> None:
    """One account's backlog does not hold another's calls back, and neither sees 429.

    The busy account's calls are started first and book their slots first; the
    quiet account's calls still finish long before the busy backlog does, which
    a shared bucket (FIFO) could not allow: within its own burst, at once.
    """
    async with paced(retry=NO_RETRY) as world:
        sim, fx, clock = world.sim, world.fx, world.clock
        busy = await world.connected_account()
        quiet = await world.connected_account()
        before = sim.stats.routes[route("quote")]
        started = clock.monotonic()
        backlog, few = 2 * RATE, 10
        finished: list[tuple[str, float]] = []

        async def one(account: Account) -> None:
            await fx.account(account.id).quote("GBPUSD")
            finished.append((account.id, clock.monotonic()))

        async with anyio.create_task_group() as tasks:
            for _ in range(backlog):
                tasks.start_soon(one, busy)
            for _ in range(few):
                tasks.start_soon(one, quiet)
        assert sim.stats.routes[route("quote")] - before == backlog + few
        last_quiet = max(i for i, (account_id, _) in enumerate(finished) if account_id == quiet.id)
        assert last_quiet < backlog // 2, last_quiet
        assert {at for account_id, at in finished if account_id == quiet.id} == {started}


async def test_management_calls_are_paced_per_key() -> None:
    """accounts.list shares the key's management bucket; 2.5 s worth of calls, no 429."""
    async with paced(retry=NO_RETRY) as world:
        sim, fx = world.sim, world.fx
        await world.connected_account()  # one link and the watcher's rounds, also paced
        before_list = sim.stats.routes[LIST]
        rounds_before = fx.stats()["watcher_rounds"]
        calls = int(2.5 * RATE)
        results: list[int] = []

        async def one() -> None:
            results.append(len(await fx.accounts.list()))

        async with anyio.create_task_group() as tasks:
            for _ in range(calls):
                tasks.start_soon(one)
        assert results == [1] * calls
        assert fx.stats()["watcher_rounds"] == rounds_before  # the watcher is idle
        assert sim.stats.routes[LIST] - before_list == calls
        assert fx.stats()["retries"] == 0


async def test_management_and_account_buckets_are_independent() -> None:
    """A management backlog does not hold an account's quotes back; no 429 on either."""
    async with paced(retry=NO_RETRY) as world:
        sim, fx = world.sim, world.fx
        account = await world.connected_account()
        trading = fx.account(account.id)
        before = (sim.stats.routes[LIST], sim.stats.routes[route("quote")])
        backlog, few = 2 * RATE, 10
        finished: list[str] = []

        async def listing() -> None:
            await fx.accounts.list()
            finished.append("list")

        async def quote() -> None:
            await trading.quote("USDJPY")
            finished.append("quote")

        async with anyio.create_task_group() as tasks:
            for _ in range(backlog):
                tasks.start_soon(listing)
            for _ in range(few):
                tasks.start_soon(quote)
        assert sim.stats.routes[LIST] - before[0] == backlog
        assert sim.stats.routes[route("quote")] - before[1] == few
        last_quote = max(i for i, kind in enumerate(finished) if kind == "quote")
        assert last_quote < backlog // 2, last_quote


async def test_pacing_turned_off_lets_the_server_answer_429() -> None:
    """Control: without client pacing the same load does meet the server's limit.

    This shows that the tests above prove something: the server really limits.
    Fake time stands still while the 60 calls are on the wire, so the server's
    bucket of 20 lets exactly 20 through.
    """
    off = RateLimit(per_account=None, management=None)
    async with paced(server_limit=20, rate_limit=off, retry=NO_RETRY) as world:
        account = await world.connected_account()
        trading = world.fx.account(account.id)
        outcomes: list[str] = []

        async def one() -> None:
            try:
                await trading.quote("EURUSD")
            except Exception as exc:  # collected, judged below
                outcomes.append(type(exc).__name__)
            else:
                outcomes.append("ok")

        async with anyio.create_task_group() as tasks:
            for _ in range(60):
                tasks.start_soon(one)
        assert len(outcomes) == 60
        assert "RateLimitedError" in outcomes
        assert set(outcomes) <= {"ok", "RateLimitedError"}
        assert outcomes.count("ok") == 20


async def test_default_pacing_matches_the_default_server_limit() -> None:
    """Defaults on both sides (60/s): a burst of three seconds' worth of quotes, no 429."""
    async with paced(retry=NO_RETRY) as world:
        sim = world.sim
        account = await world.connected_account()
        trading = world.fx.account(account.id)
        before = sim.stats.routes[route("quote")]
        async with anyio.create_task_group() as tasks:
            for _ in range(3 * RATE):
                tasks.start_soon(trading.quote, "EURUSD")
        assert sim.stats.routes[route("quote")] - before == 3 * RATE


async def test_bare_and_explicit_routes_share_the_accounts_bucket() -> None:
    async with paced() as world:
        sim, fx = world.sim, world.fx
        account = await world.connected_account()  # the key's only account
        bare, explicit = fx.account(), fx.account(account.id)
        before = sim.stats.requests
        async with anyio.create_task_group() as tasks:
            for _ in range(3 * RATE // 2):
                tasks.start_soon(bare.quote, "EURUSD")
                tasks.start_soon(explicit.quote, "EURUSD")
        assert fx.stats()["retries"] == 0
        # Every quote, plus the one account listing that finds the bare routes' bucket.
        assert sim.stats.requests - before == 3 * RATE + 1
