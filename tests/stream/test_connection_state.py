"""``fx.connection()``: the stream's typed state, read, awaited and iterated.

States come from the real socket against the simulator; the degraded state,
which takes seconds of silence, runs on a ``FakeClock`` moved tick by tick.
"""

from __future__ import annotations

import dataclasses
import itertools

import anyio
import pytest

from fxsocket_async import AuthenticationError
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, ConnectionState, StreamStats
from tests.helpers.poll import poll

from .conftest import FAST_STREAM, WAIT, link, make_streaming_client
from .test_faults import drive, fake_time_session

pytestmark = pytest.mark.anyio


async def test_a_session_goes_idle_connecting_live_reconnecting_live_closed(
    sim: Simulator, account: Account
) -> None:
    seen: list[ConnectionState] = []
    async with make_streaming_client(sim) as fx:
        account = await link(fx, connected=True)
        status = fx.connection(account.id)
        assert status.state.state == "idle"
        with anyio.fail_after(WAIT):
            async with status.watch() as states:
                async with fx.quotes("EURUSD", account=account.id):
                    seen.append(await anext(states))  # idle: the state when watching began
                    seen.append(await anext(states))  # connecting
                    seen.append(await anext(states))  # live
                    sim.faults.drop_connections()
                    seen.append(await anext(states))  # reconnecting
                    seen.append(await anext(states))  # live again
                stats: StreamStats = fx.stats()["stream"]
    assert [s.state for s in seen] == ["idle", "connecting", "live", "reconnecting", "live"]
    reconnecting = seen[3]
    assert reconnecting.attempt == 1
    assert reconnecting.reason  # what ended the connection
    assert reconnecting.next_attempt_at is not None
    assert all(a.since <= b.since for a, b in itertools.pairwise(seen))
    assert stats.state == "live"
    assert status.state.state == "closed"  # the session ended


async def test_wait_for_returns_at_once_when_already_there_and_times_out_otherwise(
    sim: Simulator, account: Account
) -> None:
    async with make_streaming_client(sim) as client:
        with anyio.fail_after(WAIT):
            await client.connect_stream(account=account.id)
            live = await client.connection(account.id).wait_for("live")
        assert live.state == "live"
        with anyio.fail_after(WAIT), pytest.raises(TimeoutError) as caught:
            await client.connection(account.id).wait_for("reconnecting", timeout=0.05)
        assert "reconnecting" in str(caught.value)
        assert "live" in str(caught.value)


async def test_a_refused_key_is_failed_with_its_error_and_wait_for_raises_it(
    sim: Simulator,
) -> None:
    async with make_streaming_client(sim, key="not-a-key") as fx:
        with anyio.fail_after(WAIT), pytest.raises(AuthenticationError):
            await fx.connect_stream()
        state = fx.connection().state
        assert state.state == "failed"
        assert isinstance(state.error, AuthenticationError)
        with anyio.fail_after(WAIT), pytest.raises(AuthenticationError):
            await fx.connection().wait_for("live")
        assert fx.stats()["stream"].state == "failed"


async def test_quotes_silent_for_half_their_deadline_make_it_degraded_until_one_arrives(
    sim: Simulator,
) -> None:
    policy = dataclasses.replace(FAST_STREAM, quote_silence=2.0)  # degraded after 1 s
    async with (
        fake_time_session(sim, policy) as (fx, account, clock),
        fx.quotes("EURUSD", account=account.id) as quotes,
    ):
        status = fx.connection(account.id)
        with anyio.fail_after(WAIT):
            await status.wait_for("live")
            await poll(lambda: clock.sleepers > 0, timeout=WAIT, what="the ticker")
            started = clock.monotonic()
            await drive(
                clock,
                policy.liveness_tick,
                lambda: status.state.state == "degraded",
                "the stream to be degraded",
            )
            assert 1.0 < clock.monotonic() - started <= 2.0  # half the deadline, not all
            assert "no quote" in status.state.reason
            assert fx.stats()["stream"].reconnects == 0  # degraded, not dead
            moved = sim.set_price("EURUSD", 1.2345)
            assert (await anext(quotes)).bid == moved.bid
            clock.advance(policy.liveness_tick)  # the next tick sees the quote
            await status.wait_for("live")
