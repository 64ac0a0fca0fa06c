"""The bridge's own failures are ours, bounded in time, and say what to do."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from typing import Any

import anyio
import pytest
from nats.aio.client import Client as NatsClient

from fxsocket_async import ValidationError
from fxsocket_async.bridge import Bridge, BridgeUnavailableError
from fxsocket_async.bridge._publisher import Publisher
from fxsocket_async.bridge._wire import Wire
from fxsocket_async.simulator import Simulator

from .conftest import WAIT, bridge_for, link, session

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.dialects("reference")
async def test_an_unreachable_nats_fails_the_start_within_the_connect_timeout(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"nats://127.0.0.1:{_closed_port()}"
    with anyio.fail_after(WAIT):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            bridge = Bridge(fx, nats=url, accounts=[account.id], connect_timeout=0.5)
            with pytest.raises(BridgeUnavailableError) as raised:
                async with bridge:
                    pass
    assert raised.value.code == "bridge_unavailable"
    assert url in raised.value.message
    assert "no server accepted within 0.5 s" in raised.value.message
    # nats-py's own default would print a traceback per attempt.
    assert not any(record.exc_info for record in caplog.records)


def _bridge_tasks(baseline: set[asyncio.Task[object]]) -> set[str]:
    return {
        t.get_name() for t in asyncio.all_tasks() - baseline if t.get_name().startswith("bridge")
    }


async def test_a_cancelled_bridge_block_still_saves_state_drains_nats_and_leaves_no_task(
    sim: Simulator, nats_url: str, nc: NatsClient
) -> None:
    wire = Wire()
    with anyio.fail_after(WAIT * 2):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            baseline = asyncio.all_tasks()
            with anyio.CancelScope() as outer:
                async with bridge_for(fx, nats_url, [account.id], symbols=["EURUSD"]) as bridge:
                    kv = await nc.jetstream().key_value(wire.bridge_bucket)
                    connection = bridge.nc
                    assert _bridge_tasks(baseline) == {
                        f"bridge events {account.id}", f"bridge quotes {account.id}",
                        f"bridge saver {account.id}", "bridge monitor", "bridge latest quotes",
                    }  # fmt: skip
                    await kv.delete(wire.state_key(account.id))
                    outer.cancel()  # as a Ctrl-C handler would: the block ends cancelled
                    await anyio.sleep_forever()
            assert outer.cancelled_caught
            assert _bridge_tasks(baseline) == set()
            entry = await kv.get(wire.state_key(account.id))  # saved again on the way out
            assert entry.value
            assert connection.is_closed  # drained to the end, not cut off by the cancellation


async def test_a_failed_task_is_raised_by_wait_and_spares_the_others(
    sim: Simulator, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug cannot be made to happen for real: one task is given one.
    async def broken(self: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Publisher, "run_latest", broken)
    with anyio.fail_after(WAIT * 2):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            baseline = asyncio.all_tasks()
            async with bridge_for(fx, nats_url, [account.id], symbols=["EURUSD"]) as bridge:
                with pytest.raises(BridgeUnavailableError) as raised:
                    await bridge.wait()
                assert "RuntimeError" in raised.value.message
                assert f"bridge events {account.id}" in _bridge_tasks(baseline)


@pytest.mark.dialects("reference")
@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"nats": "localhost:4222"}, "nats must be a URL"),
        ({"accounts": []}, "at least one account"),
        ({"max_batch": 0}, "max_batch must be 1..10000"),
        ({"latest_interval": -1.0}, "must be positive"),
        ({"monitor_interval": 0.0}, "must be positive"),
        ({"publish_timeout": 0.0}, "must be positive and finite"),
        ({"publish_timeout": float("nan")}, "must be positive and finite"),
        ({"connect_timeout": float("inf")}, "must be positive and finite"),
        ({"duplicate_window": timedelta(days=30)}, "duplicate_window must not be longer"),
    ],
)
async def test_bad_arguments_are_refused_before_anything_connects(
    sim: Simulator, given: dict[str, object], said: str
) -> None:
    arguments: dict[str, Any] = {"nats": "nats://127.0.0.1:4222", "accounts": ["a1"], **given}
    with anyio.fail_after(WAIT):
        async with session(sim) as fx:
            with pytest.raises(ValidationError) as refused:
                Bridge(fx, **arguments)
    assert said in refused.value.message
