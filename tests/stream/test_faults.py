"""The stream against network and server faults: mute, unanswered pings, refusals, 401.

The liveness tests run the client on a ``FakeClock``: the test moves time one
liveness tick at a time (``drive``) and lets the loopback I/O that a tick
causes finish before the next, so deadlines of seconds pass in milliseconds
and every step is deterministic. Everything else reconnects in tens of
milliseconds of real time (``FAST_STREAM``). Mute is global in the simulator:
a test unmutes once it has seen the client open a new connection.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from fxsocket_async import (
    AsyncFxSocket,
    AuthenticationError,
    ConnectionFailedError,
    FxSocketError,
    PermissionDeniedError,
    StreamPolicy,
)
from fxsocket_async._clock import FakeClock
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, Quote
from tests.helpers.dialects import is_terminal

from .conftest import FAST_STREAM, WAIT, link, make_streaming_client, sim_config

pytestmark = pytest.mark.anyio


class Collector:
    """Reads an async iterator in the background; records what it read and how it ended."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.error: FxSocketError | None = None
        self._changed = anyio.Event()

    async def run(self, iterator: AsyncIterator[Any]) -> None:
        try:
            async for item in iterator:
                self.items.append(item)
                self._notify()
        except FxSocketError as exc:
            self.error = exc
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_until(self, done: Callable[[], bool]) -> None:
        """Wait (bounded by the caller) until ``done()`` holds."""
        while not done():
            await self._changed.wait()

    async def wait_for_more_than(self, count: int) -> None:
        await self.wait_until(lambda: len(self.items) > count)

    async def wait_for_error(self) -> None:
        await self.wait_until(lambda: self.error is not None)


async def poll(condition: Callable[[], bool], what: str) -> None:
    """Wait for a simulator or client counter, where no event exists to wait on.

    Bounded in count here and in time by the caller's ``fail_after``.
    """
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        await anyio.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def stream_stats(fx: AsyncFxSocket) -> Any:
    stats = fx.stats()["stream"]
    assert stats is not None
    return stats


@pytest.fixture
async def ticking_sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    """A simulator whose market ticks by itself (every 50 ms), so quotes flow unsteered."""
    async with Simulator(sim_config(quote_interval=0.05)) as simulator:
        yield simulator


@contextlib.asynccontextmanager
async def session(
    sim: Simulator, policy: StreamPolicy = FAST_STREAM
) -> AsyncIterator[tuple[AsyncFxSocket, Account]]:
    """A client with ``policy`` and a connected account."""
    async with make_streaming_client(sim, stream=policy) as fx:
        with anyio.fail_after(WAIT):
            account = await link(fx, connected=True)
        yield fx, account


@contextlib.asynccontextmanager
async def fake_time_session(
    sim: Simulator, policy: StreamPolicy
) -> AsyncIterator[tuple[AsyncFxSocket, Account, FakeClock]]:
    """A client on a ``FakeClock`` with ``policy`` and a connected account."""
    clock = FakeClock()
    async with make_streaming_client(sim, stream=policy, clock=clock) as fx:
        with anyio.fail_after(WAIT):
            account = await link(fx)
            # The watcher polls on fake time: finish provisioning and read the account.
            sim.complete_provisioning(account.id)
            account = await fx.accounts.get(account.id)
        assert account.status == "connected"
        yield fx, account, clock


async def drive(clock: FakeClock, step: float, done: Callable[[], bool], what: str) -> None:
    """Move fake time ``step`` at a time until ``done()``; after each step, let what it
    woke (a tick, a ping on the loopback socket) run before the next one."""
    for _ in range(int(WAIT / step) + 1):
        if done():
            return
        clock.advance(step)
        await settle()
    raise AssertionError(f"gave up waiting for {what} after {WAIT:g} fake seconds")


async def settle() -> None:
    # A few loop passes and one short real pause: enough for loopback frames to land.
    for _ in range(5):
        await anyio.lowlevel.checkpoint()
    await anyio.sleep(0.002)


# ------------------------------------------------------------------ liveness


async def test_silent_quotes_while_pings_are_answered_mean_a_dead_stream(
    ticking_sim: Simulator,
) -> None:
    sim = ticking_sim
    policy = dataclasses.replace(FAST_STREAM, quote_silence=1.5)  # dead_after stays 60 s
    async with (
        fake_time_session(sim, policy) as (fx, account, clock),
        fx.quotes("EURUSD", account=account.id) as quotes,
        anyio.create_task_group() as tg,
    ):
        collector = Collector()
        tg.start_soon(collector.run, quotes)
        with anyio.fail_after(WAIT):
            await collector.wait_for_more_than(0)
            handshakes = sim.stats.ws_handshakes
            sim.faults.mute()  # quotes stop, pings would still be answered
            started = clock.monotonic()
            await drive(
                clock,
                policy.liveness_tick,
                lambda: stream_stats(fx).reconnects >= 1,
                "the client to find the stream dead and reconnect",
            )
            # Found dead by the quote deadline, not before it.
            assert clock.monotonic() - started > 1.5
            await poll(lambda: sim.stats.ws_handshakes > handshakes, "a new handshake")
            sim.faults.unmute()
            # Every quote sent before the mute was read long ago (before the deadline).
            read = len(collector.items)
            await collector.wait_for_more_than(read)
        assert stream_stats(fx).reconnects >= 1
        assert collector.error is None
        assert all(isinstance(q, Quote) and q.symbol == "EURUSD" for q in collector.items)
        tg.cancel_scope.cancel()


async def test_a_stream_that_answers_nothing_is_dead_after_its_deadline(
    ticking_sim: Simulator,
) -> None:
    sim = ticking_sim
    policy = dataclasses.replace(FAST_STREAM, ping_interval=0.5, dead_after=1.5)
    assert policy.quote_silence is None  # only the frame deadline can find it dead
    async with (
        fake_time_session(sim, policy) as (fx, account, clock),
        fx.quotes("EURUSD", account=account.id) as quotes,
        anyio.create_task_group() as tg,
    ):
        collector = Collector()
        tg.start_soon(collector.run, quotes)
        with anyio.fail_after(WAIT):
            await collector.wait_for_more_than(0)
            handshakes = sim.stats.ws_handshakes
            sim.faults.mute(answer_pings=False)  # nothing at all: no data, no pongs
            started = clock.monotonic()
            await drive(
                clock,
                policy.liveness_tick,
                lambda: stream_stats(fx).reconnects >= 1,
                "the client to find the stream dead and reconnect",
            )
            assert clock.monotonic() - started > 1.5  # not before the frame deadline
            await poll(lambda: sim.stats.ws_handshakes > handshakes, "a new handshake")
            sim.faults.unmute()
            read = len(collector.items)
            await collector.wait_for_more_than(read)
        assert stream_stats(fx).reconnects >= 1
        assert collector.error is None
        tg.cancel_scope.cancel()


async def test_a_mute_stream_that_answers_pings_is_alive_without_quote_consumers(
    sim: Simulator,
) -> None:
    policy = dataclasses.replace(FAST_STREAM, ping_interval=0.5, dead_after=1.5)
    clock = FakeClock()
    async with make_streaming_client(sim, stream=policy, clock=clock) as fx:
        with anyio.fail_after(WAIT):
            await fx.connect_stream()
            await poll(lambda: clock.sleepers > 0, "the liveness ticker to start")
            sim.faults.mute()
            frames = stream_stats(fx).frames
            # Four pings, each answered before the next: 2 s, longer than the deadline,
            # and no data; the pongs alone keep it alive.
            for pong in range(1, 5):
                clock.advance(policy.ping_interval)
                await poll(lambda n=pong: stream_stats(fx).frames >= frames + n, f"pong {pong}")
            assert clock.monotonic() > policy.dead_after
        sim.faults.unmute()
        assert stream_stats(fx).reconnects == 0
        assert sim.stats.ws_handshakes == 1


# ----------------------------------------------------------------- handshakes


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_refused_handshake_is_retried_until_the_server_accepts(
    ticking_sim: Simulator, status: int
) -> None:
    sim = ticking_sim
    async with (
        session(sim) as (fx, account),
        fx.quotes("EURUSD", account=account.id) as quotes,
        anyio.create_task_group() as tg,
    ):
        collector = Collector()
        tg.start_soon(collector.run, quotes)
        with anyio.fail_after(WAIT):
            await collector.wait_for_more_than(0)
            refused = sim.stats.ws_refused
            sim.faults.refuse_handshakes(status=status)
            sim.faults.drop_connections()
            await poll(lambda: sim.stats.ws_refused >= refused + 3, "three refused handshakes")
            assert not stream_stats(fx).connected
            sim.faults.accept_handshakes()
            await poll(lambda: stream_stats(fx).connected, "the client to reconnect")
            read = len(collector.items)
            await collector.wait_for_more_than(read)  # quotes flow again
        assert collector.error is None
        assert stream_stats(fx).reconnects == 1
        tg.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthenticationError), (403, PermissionDeniedError)]
)
async def test_a_refused_key_on_reconnect_is_fatal_and_raised_to_every_consumer(
    sim: Simulator,
    fx: AsyncFxSocket,
    account: Account,
    status: int,
    error: type[FxSocketError],
) -> None:
    collectors = [Collector() for _ in range(3)]
    async with (
        fx.quotes("EURUSD", account=account.id) as eurusd,
        fx.quotes("EURUSD", "GBPUSD", account=account.id) as both,
        fx.events(account=account.id) as events,
        anyio.create_task_group() as tg,
    ):
        for collector, subscription in zip(collectors, (eurusd, both, events), strict=True):
            tg.start_soon(collector.run, subscription)
        refused = sim.stats.ws_refused
        sim.faults.refuse_handshakes(status=status)
        sim.faults.drop_connections()
        with anyio.fail_after(WAIT):
            for collector in collectors:
                await collector.wait_for_error()
    for collector in collectors:
        assert type(collector.error) is error
        assert collector.error.status == status
    assert sim.stats.ws_refused == refused + 1  # fatal: never tried again
    assert not stream_stats(fx).connected
    # A new consumer learns it at once, too.
    with pytest.raises(error):
        async with fx.quotes("USDJPY", account=account.id):
            pass


async def test_401_at_first_connect_is_raised_to_every_consumer_entering_at_once(
    sim: Simulator,
) -> None:
    # The simulator cannot revoke a key while connected; refuse_handshakes(status=401)
    # above stands for that. Here the key is wrong from the start.
    raised: list[BaseException] = []
    async with make_streaming_client(sim, key="not-a-key") as fx:

        async def enter(symbol: str) -> None:
            try:
                async with fx.quotes(symbol, account="acc_any"):
                    pass
            except FxSocketError as exc:
                raised.append(exc)

        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(enter, "EURUSD")
                tg.start_soon(enter, "GBPUSD")
        assert [type(e) for e in raised] == [AuthenticationError, AuthenticationError]
        assert all(e.status == 401 for e in raised)
        # One shared attempt, not retried; a terminal session first reads the account's
        # record to find its socket, and that read is what refuses the key.
        assert sim.stats.ws_handshakes == (0 if is_terminal() else 1)
        with pytest.raises(AuthenticationError):
            await fx.connect_stream()
        assert sim.stats.ws_handshakes == 1


async def test_max_reconnects_ends_every_consumer_with_connection_failed(sim: Simulator) -> None:
    policy = dataclasses.replace(FAST_STREAM, max_reconnects=2)
    collectors = [Collector() for _ in range(2)]
    async with session(sim, policy) as (fx, account):
        async with (
            fx.quotes("EURUSD", account=account.id) as quotes,
            fx.events(account=account.id) as events,
            anyio.create_task_group() as tg,
        ):
            for collector, subscription in zip(collectors, (quotes, events), strict=True):
                tg.start_soon(collector.run, subscription)
            refused = sim.stats.ws_refused
            sim.faults.refuse_handshakes(status=503)
            sim.faults.drop_connections()
            with anyio.fail_after(WAIT):
                for collector in collectors:
                    await collector.wait_for_error()
        for collector in collectors:
            assert type(collector.error) is ConnectionFailedError
            assert collector.error.code == "handshake_503"
        assert sim.stats.ws_refused == refused + 2  # two attempts, then it gave up
        assert not stream_stats(fx).connected
