"""The account watcher: one ``GET /v1/accounts`` per round for every account it follows.

The simulator's own counters are the witness: ``sim.stats.routes["GET
/v1/accounts"]`` (what the server saw) must equal ``fx.stats()["watcher_rounds"]``
(what the client polled) whenever the test itself makes no list call.
"""

from __future__ import annotations

import builtins
import itertools
import random
from collections.abc import Iterator

import anyio
import pytest

from fxsocket_async import (
    AccountError,
    AsyncFxSocket,
    AuthenticationError,
    NotFoundError,
    TimeoutError,
    WatcherPolicy,
)
from fxsocket_async._clock import FakeClock
from fxsocket_async._rest.watcher import AccountWatcher
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, AccountStatusChanged
from tests.helpers.routes import watch_routes
from tests.helpers.sim import WAIT, fake_time_session, link, make_client, sim_config

pytestmark = pytest.mark.anyio

LIST = "GET /v1/accounts"
BROKEN = "X-Broken"


def rounds_match(sim: Simulator, fx: AsyncFxSocket, extra_lists: int = 0) -> None:
    """The server saw one list request per watcher round (plus the test's own)."""
    assert sim.stats.routes[LIST] == fx.stats()["watcher_rounds"] + extra_lists, (
        sim.stats.routes[LIST],
        fx.stats(),
    )


# ------------------------------------------------------------ wait_connected


async def test_three_accounts_at_once_two_connect_one_fails(
    sim: Simulator, fx: AsyncFxSocket
) -> None:
    accounts: list[Account] = []
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tasks:
            for server in ("Sim-Demo", BROKEN, "Other-Live"):

                async def one(server: str = server) -> None:
                    accounts.append(await link(fx, server=server))

                tasks.start_soon(one)
    assert sorted(a.status for a in accounts) == ["connecting"] * 3
    broken = next(a for a in accounts if a.server == BROKEN)
    good = [a for a in accounts if a.server != BROKEN]

    results: dict[str, Account | BaseException] = {}

    async def wait(account_id: str) -> None:
        try:
            results[account_id] = await fx.accounts.wait_connected(account_id, timeout=WAIT)
        except AccountError as exc:
            results[account_id] = exc

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tasks:
            for account in accounts:
                tasks.start_soon(wait, account.id)

    for account in good:
        result = results[account.id]
        assert isinstance(result, Account), result
        assert result.status == "connected"
        assert result.id == account.id
    error = results[broken.id]
    assert isinstance(error, AccountError)
    assert error.account_id == broken.id
    # The server saw exactly one list request per watcher round, for all three accounts.
    assert fx.stats()["watcher_rounds"] >= 1
    rounds_match(sim, fx)
    # The error carries the server's own text.
    server_view = await fx.accounts.get(broken.id)
    assert server_view.status == "error"
    assert server_view.error
    assert error.message == server_view.error
    assert server_view.error in str(error)
    rounds_match(sim, fx)  # get is not a list request


async def test_many_waiters_on_one_account_cost_no_extra_requests(
    sim: Simulator, fx: AsyncFxSocket
) -> None:
    account = await link(fx)
    requests_before = sim.stats.requests
    rounds_before = fx.stats()["watcher_rounds"]
    results: list[Account] = []

    async def wait() -> None:
        results.append(await fx.accounts.wait_connected(account.id, timeout=WAIT))

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tasks:
            for _ in range(50):
                tasks.start_soon(wait)
    assert len(results) == 50
    assert {r.status for r in results} == {"connected"}
    rounds_match(sim, fx)
    # Nothing but the watcher's rounds was sent while they waited.
    assert sim.stats.requests - requests_before == fx.stats()["watcher_rounds"] - rounds_before


async def test_waiters_do_not_trigger_rounds(slow_sim: Simulator) -> None:
    """Fifty waiters, a 30 s polling interval: no round is polled on their behalf.

    A list reply resolves them all; the watcher never had to send anything.
    """
    sim = slow_sim
    slow = WatcherPolicy(initial_interval=30, max_interval=30)
    async with make_client(sim, watcher=slow) as fx:
        account = await link(fx)
        results: list[Account] = []

        async def wait() -> None:
            results.append(await fx.accounts.wait_connected(account.id, timeout=WAIT))

        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tasks:
                for _ in range(50):
                    tasks.start_soon(wait)
                # A full request/reply cycle, while all fifty wait: still connecting.
                assert [a.status for a in await fx.accounts.list()] == ["connecting"]
                assert results == []
                sim.complete_provisioning(account.id)
                # The list reply is observed and wakes every waiter.
                assert [a.status for a in await fx.accounts.list()] == ["connected"]
        assert len(results) == 50
        assert fx.stats()["watcher_rounds"] == 0
        assert sim.stats.routes[LIST] == 2  # both ours


async def test_wait_on_a_connected_account_confirms_it_once_with_the_server(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account
) -> None:
    # Issue 9: a cached "connected" is not trusted; one round confirms it for every waiter.
    before = sim.stats.routes[LIST]
    confirmed: list[Account] = []

    async def wait() -> None:
        confirmed.append(await fx.accounts.wait_connected(connected_account.id, timeout=5))

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tasks:
            for _ in range(20):
                tasks.start_soon(wait)
    assert [a.status for a in confirmed] == ["connected"] * 20
    assert sim.stats.routes[LIST] == before + 1


async def test_wait_on_an_account_unlinked_elsewhere_is_not_found(
    sim: Simulator, fx: AsyncFxSocket, connected_account: Account
) -> None:
    async with make_client(sim) as other:
        await other.accounts.unlink(connected_account.id)
    with anyio.fail_after(WAIT), pytest.raises(NotFoundError) as caught:
        await fx.accounts.wait_connected(connected_account.id, timeout=5)
    assert connected_account.id in caught.value.message
    assert caught.value.status == 404


async def test_wait_connected_timeout() -> None:
    """On fake time: the wait gives up after exactly its timeout, the watcher polling meanwhile."""
    async with fake_time_session(watcher=WatcherPolicy()) as world:
        sim, fx, clock = world.sim, world.fx, world.clock
        account = await link(fx)  # its terminal never comes up on its own
        started = clock.monotonic()
        with pytest.raises(TimeoutError) as caught:
            await fx.accounts.wait_connected(account.id, timeout=30)
        assert clock.monotonic() - started == pytest.approx(30)
        assert isinstance(caught.value, builtins.TimeoutError)
        assert account.id in str(caught.value)
        assert "connecting" in str(caught.value)
        # Rounds 1 s after the link, then about 1, 1.5, 2.25 ... s apart: 7 or 8 in 30 s.
        assert fx.stats()["watcher_rounds"] in (7, 8), fx.stats()
        rounds_match(sim, fx)
        # The watcher still follows it (it is connecting): a later wait can succeed.
        sim.complete_provisioning(account.id)
        done = await fx.accounts.wait_connected(account.id, timeout=WAIT)
        assert done.status == "connected"
        rounds_match(sim, fx)


async def test_wait_connected_unknown_id_is_not_found(sim: Simulator, fx: AsyncFxSocket) -> None:
    with anyio.fail_after(WAIT), pytest.raises(NotFoundError):
        await fx.accounts.wait_connected("acc-nobody-linked", timeout=WAIT)
    assert fx.stats()["watcher_rounds"] >= 1
    rounds_match(sim, fx)


async def test_account_of_another_key_owner_is_not_found(anyio_backend: str) -> None:
    from fxsocket_async.simulator import ApiKey

    config = sim_config(api_keys=(ApiKey("mine", "full"), ApiKey("theirs", "full", owner="other")))
    async with Simulator(config) as sim:
        async with make_client(sim, key="theirs") as them:
            theirs = await link(them, connected=True)
        async with make_client(sim, key="mine") as fx:
            with anyio.fail_after(WAIT), pytest.raises(NotFoundError):
                await fx.accounts.wait_connected(theirs.id, timeout=WAIT)


async def test_unlinked_while_waiting_is_not_found(slow_sim: Simulator) -> None:
    async with make_client(slow_sim) as fx:
        account = await link(fx)
        outcome: list[BaseException] = []

        async def wait() -> None:
            try:
                await fx.accounts.wait_connected(account.id, timeout=WAIT)
            except NotFoundError as exc:
                outcome.append(exc)

        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(wait)
                await fx.accounts.unlink(account.id)
        assert len(outcome) == 1


async def test_failed_round_is_retried_and_waiters_still_resolve() -> None:
    async with fake_time_session() as world:
        sim, fx = world.sim, world.fx
        account = await link(fx)
        # The watcher is the only one sending: its next list request meets two 500s.
        sim.faults.fail_next(2, status=500)
        sim.complete_provisioning(account.id)
        done = await fx.accounts.wait_connected(account.id, timeout=WAIT)
        assert done.status == "connected"
        # Retried within a round (after backoff delays on the fake clock): two more
        # requests than rounds.
        assert fx.stats()["retries"] == 2
        rounds_match(sim, fx, extra_lists=2)


async def test_auth_failure_in_a_round_fails_the_waiters(slow_sim: Simulator) -> None:
    async with make_client(slow_sim) as fx:
        account = await link(fx)
        slow_sim.faults.fail_next(1, status=401, error="unauthorized", message="key revoked")
        with anyio.fail_after(WAIT), pytest.raises(AuthenticationError, match="key revoked"):
            await fx.accounts.wait_connected(account.id, timeout=WAIT)


async def test_watcher_stops_polling_once_all_connected() -> None:
    """On fake time: once every account is connected, an hour passes without a round."""
    every_second = WatcherPolicy(initial_interval=1, max_interval=1)
    async with fake_time_session(watcher=every_second) as world:
        sim, fx, clock = world.sim, world.fx, world.clock

        async def an_hour_passes() -> None:
            await world.driver.settle()
            clock.advance(3600)  # polling would show up as 3600 rounds
            await world.driver.settle()

        first = await world.connected_account()
        rounds_match(sim, fx)
        rounds = fx.stats()["watcher_rounds"]
        lists = sim.stats.routes[LIST]
        await an_hour_passes()
        assert fx.stats()["watcher_rounds"] == rounds
        assert sim.stats.routes[LIST] == lists
        # Requests of the account's own do not wake it either.
        trading = fx.account(first.id)
        for _ in range(10):
            await trading.quote("EURUSD")
        assert fx.stats()["watcher_rounds"] == rounds
        # A new link wakes it up again, and the per-round accounting still holds.
        await world.connected_account()
        assert fx.stats()["watcher_rounds"] > rounds
        rounds_match(sim, fx)
        rounds = fx.stats()["watcher_rounds"]
        await an_hour_passes()
        assert fx.stats()["watcher_rounds"] == rounds
        rounds_match(sim, fx)


async def test_accounts_seen_connecting_by_list_are_followed(slow_sim: Simulator) -> None:
    """An account linked elsewhere and seen ``connecting`` in a list is followed too."""
    sim = slow_sim
    async with make_client(sim) as other:
        account = await link(other)
    async with make_client(sim) as fx:
        with anyio.fail_after(WAIT):
            async with fx.accounts.watch() as feed:
                assert [a.status for a in await fx.accounts.list()] == ["connecting"]
                sim.complete_provisioning(account.id)
                statuses = []
                async for change in feed:
                    statuses.append(change.data.status)
                    if change.data.status != "connecting" or len(statuses) > 5:
                        break
        assert statuses == ["connecting", "connected"]
        assert fx.stats()["watcher_rounds"] >= 1


# ------------------------------------------------------------------ watch()


async def test_watch_yields_status_changes(sim: Simulator, fx: AsyncFxSocket) -> None:
    changes: list[AccountStatusChanged] = []
    with anyio.fail_after(WAIT):
        async with fx.accounts.watch() as feed:
            good = await link(fx)
            broken = await link(fx, server=BROKEN)
            finals: set[str] = set()
            async for change in feed:
                changes.append(change)
                if change.data.status in ("connected", "error"):
                    finals.add(change.account_id)
                if finals == {good.id, broken.id} or len(changes) >= 20:
                    break
    assert all(isinstance(c, AccountStatusChanged) for c in changes)
    assert all(c.seq is None for c in changes)
    by_account: dict[str, list[tuple[str, str]]] = {}
    for change in changes:
        by_account.setdefault(change.account_id, []).append((change.data.status, change.data.error))
    assert by_account[good.id] == [("connecting", ""), ("connected", "")]
    assert [s for s, _ in by_account[broken.id]] == ["connecting", "error"]
    server_error = (await fx.accounts.get(broken.id)).error
    assert by_account[broken.id][-1][1] == server_error
    assert server_error


async def test_two_feeds_each_get_every_change(sim: Simulator, fx: AsyncFxSocket) -> None:
    with anyio.fail_after(WAIT):
        async with fx.accounts.watch() as first, fx.accounts.watch() as second:
            account = await link(fx, connected=True)
            got = []
            for feed in (first, second):
                statuses = []
                async for change in feed:
                    statuses.append((change.account_id, change.data.status))
                    if change.data.status == "connected" or len(statuses) >= 10:
                        break
                got.append(statuses)
    expected = [(account.id, "connecting"), (account.id, "connected")]
    assert got == [expected, expected]


async def test_feed_ends_when_the_session_closes(sim: Simulator) -> None:
    async with make_client(sim) as fx:
        feed = fx.accounts.watch()
    with anyio.fail_after(WAIT):
        remaining = [change async for change in feed]
    assert remaining == []


async def test_closed_feed_ends_iteration(sim: Simulator, fx: AsyncFxSocket) -> None:
    feed = fx.accounts.watch()
    await feed.aclose()
    with anyio.fail_after(WAIT):
        assert [c async for c in feed] == []
    # A closed feed receives nothing more.
    await link(fx, connected=True)
    with anyio.fail_after(WAIT):
        assert [c async for c in feed] == []


async def test_feed_closed_while_a_consumer_waits(sim: Simulator, fx: AsyncFxSocket) -> None:
    feed = fx.accounts.watch()
    seen: list[AccountStatusChanged] = []

    async def consume() -> None:
        async for change in feed:
            seen.append(change)

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(consume)
            await anyio.wait_all_tasks_blocked()
            await feed.aclose()
    assert seen == []


# ------------------------------------------------------------ polling interval


EXPECTED_INTERVALS = [1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0, 10.0, 10.0, 10.0]


def _intervals(policy: WatcherPolicy, seed: int) -> Iterator[float]:
    # The watcher draws its intervals from its policy's Backoff, as here.
    return policy.backoff.delays(random.Random(seed))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
async def test_polling_interval_backs_off_from_one_to_ten_seconds(seed: int) -> None:
    intervals = _intervals(WatcherPolicy(), seed)
    delays = [next(intervals) for _ in EXPECTED_INTERVALS]
    for delay, interval in zip(delays, EXPECTED_INTERVALS, strict=True):
        # Jitter takes off up to a fifth, never adds.
        assert 0.8 * interval <= delay <= interval, (delays, EXPECTED_INTERVALS)
    assert max(delays) <= 10.0
    assert delays[0] <= 1.0


async def test_rounds_back_off_from_one_to_ten_seconds_on_the_wire() -> None:
    """On fake time, the server sees the watcher's rounds at the policy's intervals.

    The first round comes ``initial_interval`` after the link; each later one an
    interval drawn from the policy's backoff (up to a fifth less, never more),
    growing to ``max_interval``. A new link starts the backoff again.
    """
    async with fake_time_session(watcher=WatcherPolicy()) as world:
        clock = world.clock
        routes = watch_routes(world.sim, clock)
        assert routes[LIST] == 0
        await link(world.fx)  # connecting, and never connected: the watcher follows it
        linked_at = clock.monotonic()
        await routes.reached(LIST, 1 + len(EXPECTED_INTERVALS))
        times = routes.times[LIST][: 1 + len(EXPECTED_INTERVALS)]
        assert times[0] - linked_at == pytest.approx(1.0)
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        for gap, interval in zip(gaps, EXPECTED_INTERVALS, strict=True):
            assert 0.8 * interval - 1e-9 <= gap <= interval + 1e-9, (gaps, EXPECTED_INTERVALS)
        # Another link: a round initial_interval later, then the backoff from its start.
        await world.driver.settle()  # the last round's reply is read: no round in flight
        seen = routes[LIST]
        await link(world.fx)
        relinked_at = clock.monotonic()
        await routes.reached(LIST, seen + 3)
        again = routes.times[LIST][seen : seen + 3]
        assert again[0] - relinked_at == pytest.approx(1.0)
        gaps = [later - earlier for earlier, later in itertools.pairwise(again)]
        for gap, interval in zip(gaps, EXPECTED_INTERVALS[:2], strict=True):
            assert 0.8 * interval - 1e-9 <= gap <= interval + 1e-9, again
        await world.driver.settle()  # the last round's reply is read
        assert world.fx.stats()["watcher_rounds"] == routes[LIST]


async def test_polling_interval_restarts_on_a_new_link() -> None:
    policy = WatcherPolicy(initial_interval=0.5, max_interval=4, factor=2)
    watcher = AccountWatcher(None, None, policy, FakeClock(), random.Random(9))  # type: ignore[arg-type]  # no I/O here
    for _ in range(6):
        next(watcher._intervals)
    assert 0.8 * 4 <= next(watcher._intervals) <= 4
    watcher._restart_backoff()
    assert 0.8 * 0.5 <= next(watcher._intervals) <= 0.5
    assert 0.8 * 1.0 <= next(watcher._intervals) <= 1.0


async def test_polling_interval_follows_the_policy() -> None:
    policy = WatcherPolicy(initial_interval=0.25, max_interval=0.5, factor=3)
    intervals = _intervals(policy, 4)
    delays = [next(intervals) for _ in range(4)]
    for delay, interval in zip(delays, [0.25, 0.5, 0.5, 0.5], strict=True):
        assert 0.8 * interval <= delay <= interval
